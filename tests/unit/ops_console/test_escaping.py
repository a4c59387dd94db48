"""Every page escapes what it prints (Jinja2's autoescaping, issue #25 item 6): a ``<script>``
in every field a service or a user controls (SKU, store, DLQ reason and key, alert, rule,
mapping problem, the logged-in user's name) comes out as text, never as markup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from unit.ops_console.fakes import (
    DLQ_TOPIC,
    PASSWORD,
    RECORD_ID,
    FakeServices,
    FakeUsers,
    settings,
)

from ops_console.bootstrap import Seams
from ops_console.entrypoints.app import create_app
from ops_console.sessions import MemorySessions

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SKU = f"SKU-{EVIL}"
SHOP = "child-eu.myshopify.com"
USER = f"olga{EVIL}"


def evil_answers(services: FakeServices) -> None:
    """The fakes' answers with EVIL in every field a page prints from them."""
    a = services.answers
    a[("shopify-sync", "GET", "/status/stores")]["stores"][0].update(
        shop=EVIL, role=EVIL, circuit=EVIL, last_round={EVIL: EVIL}
    )
    a[("shopify-sync", "GET", "/status/stores")]["consumer_group"] = EVIL
    inv = {**a[("inventory-adjuster", "GET", "/inventory/SKU-1")], "sku": SKU}
    inv["shares"] = {EVIL: 3}
    inv["locations"] = {EVIL: inv["locations"]["wh-1"]}
    a[("inventory-adjuster", "GET", f"/inventory/{SKU}")] = inv
    a[("inventory-adjuster", "GET", f"/inventory/{SKU}/ledger")] = {
        "sku": SKU, "entries": [{"id": "1-0", "command": EVIL, "reason": EVIL}],
    }  # fmt: skip
    a[("shopify-sync", "GET", f"/status/stock/{SKU}")] = {
        "sku": SKU,
        "stores": [{"shop": SHOP, "role": EVIL, "mapped": True,
                    "locations": {EVIL: {"shows": 1, "pending": None}}}],
    }  # fmt: skip
    a[("shopify-sync", "GET", "/mapping/problems")] = {
        EVIL: {"problems": {EVIL: [SKU]}, "discovery": {"method": EVIL, "skus": 1, "at": 1.0}}
    }
    alert = a[("notifier", "GET", "/alerts/recent")]["alerts"][0]
    alert["alert"].update(sku=SKU, store=EVIL, kind=EVIL)
    alert["delivery"] = {EVIL: EVIL}
    a[("notifier", "GET", "/rules")] = {
        "channels": [EVIL],
        "in_effect": {"default": {"channels": {EVIL: [EVIL]}}, "by_sku": {SKU: {}}},
    }
    job = a[("shopify-sync", "GET", "/status/jobs")]["jobs"][0]
    job.update(job_id=EVIL, status=EVIL)
    job["result"]["stores"] = {EVIL: {"compared": 1, "mismatched": 0}}
    a[("inventory-adjuster", "GET", "/admin/dlq")]["topics"][0]["group"] = EVIL
    record = a[("inventory-adjuster", "GET", "/admin/dlq/records")]["records"][0]
    record.update(key=SKU, reason=EVIL, error=EVIL, correlation_id=EVIL)
    full = a[("inventory-adjuster", "GET", f"/admin/dlq/records/{RECORD_ID}")]
    full.update(key=SKU, reason=EVIL, error=EVIL, headers={EVIL: EVIL}, value=EVIL, stack=EVIL)
    a[("webhook-receiver", "GET", "/admin/parked")] = {
        "topic": EVIL, "counts": {EVIL: 1},
        "recent": [{"at": 1.0, "shop": EVIL, "shopify_topic": EVIL, "webhook_id": EVIL}],
    }  # fmt: skip
    connect = a[("shopify-sync", "POST", "/stores/connect")]
    connect["job_id"] = EVIL
    connect["stores"][1].update(shop=EVIL, error=EVIL, stores_file_snippet=EVIL)


@asynccontextmanager
async def evil_console() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The console logged in as a user whose name holds EVIL; the session's CSRF token."""
    services = FakeServices()
    evil_answers(services)
    users = FakeUsers()
    users.roles[USER] = "operator"
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handle))
    app = create_app(settings(), Seams(http=http, sessions=MemorySessions(), users=users))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c.test") as c,
    ):
        r = await c.post("/login", data={"user": USER, "password": PASSWORD, "next": "/stores"})
        assert r.status_code == 303
        page = (await c.get("/reconcile")).text
        marker = 'name="csrf" value="'
        start = page.index(marker) + len(marker)
        yield c, page[start : page.index('"', start)]


PAGES: list[tuple[str, dict[str, Any]]] = [
    ("/stores", {}),
    ("/stock", {"sku": SKU}),
    ("/stock", {"sku": SKU, "started": EVIL}),
    ("/stock", {"sku": SKU, "before": EVIL}),
    ("/mapping", {"sku": EVIL}),
    ("/mapping", {}),
    ("/alerts", {}),
    ("/reconcile", {"started": EVIL}),
    ("/dlq", {}),
    ("/dlq/records", {"service": "inventory-adjuster", "topic": EVIL, "status": "all"}),
    ("/dlq/records", {"service": "inventory-adjuster", "topic": DLQ_TOPIC}),
    ("/dlq/record", {"service": "inventory-adjuster", "id": RECORD_ID}),
]


@pytest.mark.parametrize(("path", "params"), PAGES)
async def test_every_page_prints_a_script_as_text(path: str, params: dict[str, Any]) -> None:
    async with evil_console() as (client, _):
        r = await client.get(path, params=params)
        assert r.status_code in (200, 404), r.text
        assert "<script" not in r.text
        # the user's name in the header, and at least one value from the services or the query
        assert f'<span class="who">olga{ESCAPED} (operator)</span>' in r.text
        assert r.text.count(ESCAPED) >= 2


async def test_each_field_of_the_fakes_is_printed_escaped_where_it_is_shown() -> None:
    async with evil_console() as (client, csrf):
        stores = (await client.get("/stores")).text
        assert f'<span class="{ESCAPED}">{ESCAPED}</span>' in stores  # the circuit cell
        assert f"<code>{ESCAPED}</code>" in stores  # the consumer group
        stock = (await client.get("/stock", params={"sku": SKU})).text
        assert f'value="SKU-{ESCAPED}"' in stock and f"Stock: SKU-{ESCAPED}" in stock
        records = (await client.get("/dlq/records", params={"service": "inventory-adjuster",
                                                            "topic": DLQ_TOPIC})).text  # fmt: skip
        assert f"<td>{ESCAPED}</td>" in records  # the DLQ reason
        record = (await client.get("/dlq/record", params={"service": "inventory-adjuster",
                                                          "id": RECORD_ID})).text  # fmt: skip
        assert f'<pre class="value">{ESCAPED}</pre>' in record
        connect = (await client.post("/stores/connect", data={"csrf": csrf})).text
        assert f"<pre>{ESCAPED}</pre>" in connect and "<script" not in connect
        assert f"<code>{ESCAPED}</code>" in connect  # the job id


async def test_an_error_page_prints_the_request_it_refuses_as_text() -> None:
    async with evil_console() as (client, _):
        r = await client.get("/dlq/records", params={"service": EVIL, "topic": EVIL})
        assert r.status_code == 400 and "<script" not in r.text
