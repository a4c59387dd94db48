"""ops-console in process: the services behind it are an ``httpx.MockTransport`` answering
canned JSON per (service, method, path), recording every request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ops_console.bootstrap import Seams
from ops_console.entrypoints.app import create_app
from ops_console.sessions import MemorySessions
from ops_console.settings import Settings
from stocksync_common.accounts import ROLE_SCOPES, Principal, Role, Scope
from stocksync_common.accounts.store import Login

TOKEN = "unit-admin-secret-7f3a"
PASSWORD = "unit password 1"  # noqa: S105 - a test secret
# user -> role; every one's password is PASSWORD
USERS: dict[str, Role] = {"olga": "operator", "vic": "viewer", "ada": "admin"}


class FakeUsers:
    """The accounts, in memory (the real store's behaviour is tested on the real Redis)."""

    def __init__(self) -> None:
        self.roles = dict(USERS)
        self.issued: dict[str, str] = {}  # token id -> user
        self.revoked: list[str] = []

    async def active(self, name: str) -> Principal | None:
        role = self.roles.get(name)
        return Principal(name, role, ROLE_SCOPES[role], "password") if role else None

    async def login(self, name: str, password: str, address: str) -> Login:
        user = await self.active(name)
        return Login("ok", user) if user and password == PASSWORD else Login("wrong")

    async def issue_token(
        self,
        name: str,
        label: str,
        scopes: frozenset[Scope],
        ttl_s: int | None = None,
        generation: int | None = None,
    ) -> tuple[str, str]:
        token_id = f"{len(self.issued):016x}"
        self.issued[token_id] = name
        return token_id, token_of(name, token_id)

    async def revoke_token(self, token_id: str) -> bool:
        self.revoked.append(token_id)
        return self.issued.pop(token_id, None) is not None

    async def touch_token(self, token_id: str, ttl_s: int) -> bool:
        return token_id in self.issued


def token_of(user: str, token_id: str) -> str:
    """The fake services accept any token that starts with TOKEN."""
    return f"{TOKEN}-{user}-{token_id}"


HOSTS = {
    "webhook-receiver": "wr.test",
    "order-consumer": "oc.test",
    "inventory-adjuster": "ia.test",
    "shopify-sync": "ss.test",
    "wms-connector": "wc.test",
    "notifier": "nt.test",
}
DLQ_TOPIC = "inventory.commands.v1.dlq.inventory-adjuster"
RECORD_ID = f"{DLQ_TOPIC}:3:17"


def default_answers() -> dict[tuple[str, str, str], Any]:
    record = {
        "id": RECORD_ID, "topic": DLQ_TOPIC, "original_topic": "inventory.commands.v1",
        "partition": 3, "offset": 17, "key": "SKU-<b>1</b>", "reason": "poison",
        "error": "ValidationError: bad payload", "attempts": 1, "failed_at": 1_760_000_000_000,
        "correlation_id": "corr-1", "status": "pending",
    }  # fmt: skip
    return {
        ("shopify-sync", "GET", "/status/stores"): {
            "consumer_group": "shopify-sync",
            "consumer_lag": 7.0,
            "stores": [
                {
                    "shop": "child-eu.myshopify.com",
                    "role": "child",
                    "circuit": "open",
                    "bucket": {"available": 950.0, "maximum": 1000.0, "restore_rate": 50.0},
                    "pending": 4,
                    "quantities_pushed": 12.0,
                    "pushes": 3.0,
                    "throttled": 0.0,
                    "last_round": {"applied": 2, "calls": 1},
                    "failures": 0,
                    "last_push_at": 1_760_000_000.0,
                },
            ],
        },  # fmt: skip
        ("inventory-adjuster", "GET", "/inventory/SKU-1"): {
            "sku": "SKU-1",
            "version": 5,
            "available": 8,
            "policy": "reject",
            "allocation_threshold": None,
            "shares": {"child-eu.myshopify.com": 3},
            "locations": {
                "wh-1": {"on_hand": 10, "reserved": 2, "safety_stock": 0, "available": 8}
            },
        },  # fmt: skip
        ("inventory-adjuster", "GET", "/inventory/SKU-1/ledger"): {
            "sku": "SKU-1",
            "entries": [
                {"id": "1-0", "command": "set_on_hand", "quantity": "10"},
                {"id": "2-0", "command": "reserve", "quantity": "2"},
            ],
        },
        ("shopify-sync", "GET", "/mapping/problems"): {
            "parent-store.myshopify.com": {
                "problems": {"duplicates": ["DUP-SKU"], "missing": ["GONE-1", "GONE-2", "LOST-3"]},
                "discovery": {"method": "bulk", "skus": 2, "at": 1_760_000_000.0},
            }
        },
        ("notifier", "GET", "/alerts/recent"): {
            "alerts": [
                {
                    "alert": {
                        "id": "a1",
                        "kind": "out_of_stock",
                        "sku": "MUG-9",
                        "available": 0,
                        "occurred_at": "2026-11-23T01:00:00Z",
                    },
                    "delivery": {"slack": "sent"},
                },
            ]
        },  # fmt: skip
        ("shopify-sync", "GET", "/status/jobs"): {
            "jobs": [
                {
                    "job_id": "job-42",
                    "status": "done",
                    "created_at": 1_760_000_000.0,
                    "result": {
                        "compared": 10,
                        "mismatched": 1,
                        "mismatch_rate": 0.1,
                        "stores": {"child-eu.myshopify.com": {"compared": 10, "mismatched": 1}},
                    },
                },
            ]
        },  # fmt: skip
        ("shopify-sync", "POST", "/reconcile"): {"job_id": "job-43"},
        ("shopify-sync", "POST", "/stores/connect"): {
            "job_id": "job-44",
            "stores": [
                {
                    "shop": "child-eu.myshopify.com",
                    "status": "ok",
                    "error": None,
                    "mapping": {"wh-1": "gid://shopify/Location/1"},
                    "subscriptions": {"created": ["ORDERS_CREATE"], "kept": ["APP_UNINSTALLED"]},
                },
                {
                    "shop": "new.myshopify.com",
                    "status": "needs_mapping",
                    "error": "add the mapping <b>now</b>",
                    "mapping": {"wh-1": "gid://x/2"},
                    "stores_file_snippet": 'locations:\n  "wh-1": "gid://x/2"',
                },
            ],
        },  # fmt: skip
        ("inventory-adjuster", "GET", "/admin/dlq"): {
            "topics": [
                {
                    "topic": DLQ_TOPIC,
                    "group": "inventory-adjuster",
                    "original_topic": "inventory.commands.v1",
                    "depth": 1,
                    "pending": 1,
                },
            ]
        },  # fmt: skip
        ("inventory-adjuster", "GET", "/admin/dlq/records"): {"records": [record]},
        ("inventory-adjuster", "GET", f"/admin/dlq/records/{RECORD_ID}"): {
            **record,
            "headers": {"type": "inventory.command_requested"},
            "value": '{"not": "valid"}',
            "stack": "Traceback: ValidationError",
        },  # fmt: skip
        ("inventory-adjuster", "POST", "/admin/dlq/replay"): {"replayed": 1, "ids": [RECORD_ID]},
        ("inventory-adjuster", "POST", "/admin/dlq/purge"): {"purged": 1},
    }


@dataclass
class FakeServices:
    answers: dict[tuple[str, str, str], Any] = field(default_factory=default_answers)
    requests: list[httpx.Request] = field(default_factory=list)
    # what the Authorization header must start with (the fake accounts' tokens by default)
    accept: str = f"Bearer {TOKEN}"
    # the services the console is configured with (STOCKSYNC_CONSOLE_SERVICES), by host
    hosts: dict[str, str] = field(default_factory=lambda: dict(HOSTS))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not request.headers.get("authorization", "").startswith(self.accept):
            return httpx.Response(401, json={"detail": "admin bearer token required"})
        service = {h: s for s, h in self.hosts.items()}.get(request.url.host, "?")
        key = (service, request.method, request.url.path)
        if key not in self.answers:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=self.answers[key])

    def calls(self, service: str, method: str, path: str) -> list[httpx.Request]:
        host = self.hosts[service]
        return [
            r
            for r in self.requests
            if r.url.host == host and r.method == method and r.url.path == path
        ]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)


def settings(hosts: dict[str, str] = HOSTS, **overrides: Any) -> Settings:
    urls = {s: f"http://{h}" for s, h in hosts.items()}
    return Settings.model_validate(
        {"admin_token": TOKEN, "environment": "test", "console_services": urls, **overrides}
    )


@asynccontextmanager
async def console(
    services: FakeServices | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeServices]]:
    services = services or FakeServices()
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handle))
    app = create_app(
        settings(services.hosts), Seams(http=http, sessions=MemorySessions(), users=FakeUsers())
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console.test"
        ) as client,
    ):
        yield client, services


async def log_in(client: httpx.AsyncClient, user: str = "olga") -> str:
    """Log in as ``user``; the CSRF token of the new session (read from the logout form)."""
    r = await client.post("/login", data={"user": user, "password": PASSWORD, "next": "/stores"})
    assert r.status_code == 303, r.text
    page = (await client.get("/reconcile")).text
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]
