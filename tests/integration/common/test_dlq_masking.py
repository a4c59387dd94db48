"""Dead letters shown with customer data masked to viewers and operators, raw to admins
(audited), on the real Kafka and Redis: through the DLQ API, and through the ops console,
which calls that API with the logged-in user's own session token."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from unit.ops_console.fakes import settings as console_settings

from ops_console.bootstrap import Seams
from ops_console.entrypoints.app import create_app
from stocksync_common.accounts.store import Accounts
from stocksync_common.consumer import RetryPolicy
from stocksync_common.runtime import accounts_on
from stocksync_common.topics import dlq_topic
from support.accounts import CHEAP
from support.poll import await_for

pytestmark = pytest.mark.integration
PASSWORD = "masking test password"  # noqa: S105 - a test secret
EMAIL, PHONE, STREET = "ann.buyer@example.com", "+44 20 7946 0958", "1 Secret Lane"
# not an event: it fails to parse and is dead-lettered at once, PII and all
POISON = {
    "type": "inventory.command_requested",
    "order": {
        "name": "#1001",
        "email": EMAIL,
        "customer": {"first_name": "Ann", "phone": PHONE},
        "shipping_address": {"address1": STREET, "zip": "SW1A 1AA"},
        "line_items": [{"sku": "TEE-1", "quantity": 2}],
    },
}
PII = (EMAIL, PHONE, STREET, "Ann", "SW1A")


@pytest.fixture
async def people(redis: Redis) -> AsyncIterator[tuple[Accounts, dict[str, str]]]:
    """Three users of each role (the default store: the API's and the console's), each
    with a token of their role's scopes."""
    accounts, run = Accounts(redis, hasher=CHEAP), uuid.uuid4().hex[:6]
    tokens: dict[str, str] = {}
    scopes = {"viewer": "read", "operator": "read,operate", "admin": "read,operate,admin"}
    for role, wanted in scopes.items():
        name = f"{role}-{run}"
        await accounts.add_user(name, role, PASSWORD)
        scope_set = frozenset(wanted.split(","))
        tokens[role] = (await accounts.issue_token(name, "t", scope_set))[1]  # type: ignore[arg-type]
        tokens[f"{role}-name"] = name
    yield accounts, tokens
    for role in scopes:
        await accounts.remove_user(tokens[f"{role}-name"])


def _no_pii(text: str) -> bool:
    return not any(p in text for p in PII)


async def test_viewers_and_operators_see_dead_letters_masked_admins_raw_and_audited(
    kafka_bootstrap, redis_url, harness, people, caplog
):
    async def never(_sku: str) -> None:
        raise AssertionError("a poison record is never handled")

    accounts, tokens = people
    async with harness.start(kafka_bootstrap, redis_url, never, [], RetryPolicy(blips_s=())) as h:
        headers = [("x-customer-email", EMAIL.encode()), ("type", b"inventory.command_requested")]
        await h.producer.send_and_wait(
            h.topic, orjson.dumps(POISON), key=b"order-1", headers=headers
        )
        app = h.app()
        dlq = dlq_topic(h.topic, h.group)
        async with (
            app.router.lifespan_context(app),
            accounts_on(app, h.settings()),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api,
        ):

            def auth(role: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[role]}"}

            async def one_record() -> dict[str, Any] | None:
                r = await api.get(
                    "/admin/dlq/records", params={"topic": dlq}, headers=auth("admin")
                )
                return r.json() if len(r.json()["records"]) == 1 else None

            await await_for("the dead letter", one_record, 30)
            [rid] = [r["id"] for r in (await one_record() or {})["records"]]
            caplog.set_level(logging.INFO, "stocksync.audit")
            for role in ("viewer", "operator"):
                listed = await api.get(
                    "/admin/dlq/records", params={"topic": dlq}, headers=auth(role)
                )
                assert listed.json()["masked"] is True and _no_pii(listed.text)
                shown = (await api.get(f"/admin/dlq/records/{rid}", headers=auth(role))).json()
                assert shown["masked"] is True and _no_pii(json.dumps(shown))
                value = json.loads(shown["value"])
                assert value["order"]["email"] == "[masked]"
                assert value["order"]["customer"] == "[masked]"
                assert value["order"]["name"] == "#1001"  # what names no one stays
                assert value["order"]["line_items"] == [{"sku": "TEE-1", "quantity": 2}]
                assert shown["headers"]["x-customer-email"] == "[masked]"
            assert not [r for r in caplog.records if "read raw" in r.getMessage()]

            raw = (await api.get(f"/admin/dlq/records/{rid}", headers=auth("admin"))).json()
            assert raw["masked"] is False and json.loads(raw["value"]) == POISON
            assert raw["headers"]["x-customer-email"] == EMAIL
            [line] = [r for r in caplog.records if r.getMessage() == "audit: dlq record read raw"]
            assert line.who == tokens["admin-name"] and line.record == rid  # type: ignore[attr-defined]

            await _through_the_console(app, accounts, tokens, redis_url, rid)


async def _through_the_console(
    dlq_app, accounts: Accounts, tokens: dict[str, str], redis_url: str, rid: str
) -> None:
    """The console's record page, as a viewer and as an admin: the service masks for the
    viewer's session token, and the page says so."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=dlq_app))
    app = create_app(console_settings(redis_url=redis_url), Seams(http=http, users=accounts))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        for role in ("viewer", "admin"):
            form = {"user": tokens[f"{role}-name"], "password": PASSWORD, "next": "/dlq"}
            assert (await client.post("/login", data=form)).status_code == 303
            page = await client.get(
                "/dlq/record", params={"service": "inventory-adjuster", "id": rid}
            )
            assert page.status_code == 200, page.text
            if role == "viewer":
                assert _no_pii(page.text) and "is masked" in page.text
            else:
                assert EMAIL in page.text and STREET in page.text and "is masked" not in page.text
            client.cookies.clear()
