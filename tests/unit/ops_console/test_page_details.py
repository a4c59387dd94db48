"""The console's details (issue #25): what each page says is what the services know now, in
words, never a raw JSON shape."""

from __future__ import annotations

import logging

import orjson
import pytest
from unit.ops_console.fakes import DLQ_TOPIC, RECORD_ID, FakeServices, console, log_in

from stocksync_common.logs import JsonFormatter

PARENT = "parent-store.myshopify.com"


async def test_the_mapping_page_counts_the_mapping_as_it_is_and_lists_duplicates() -> None:
    services = FakeServices()
    services.answers[("shopify-sync", "GET", "/mapping/problems")] = {
        PARENT: {
            "problems": {
                "duplicates": {
                    "DUP-1": ["gid://shopify/ProductVariant/11", "gid://shopify/ProductVariant/12"]
                },
                "blank_variants": [],
            },
            "discovery": {"method": "paginated", "skus": 0, "at": 1_760_000_000.0},
            "mapped": 7,
        },
        "child-eu.myshopify.com": {
            "problems": {"duplicates": {}},
            "discovery": {"method": "bulk", "skus": 0, "at": 1_760_000_000.0},
            "mapped": 0,
        },
    }
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/mapping")).text
        assert "7 SKUs mapped now" in page
        assert "(0 SKUs via" not in page and "found 0 SKUs by paginated read" in page
        assert "DUP-1 (variants 11, 12)" in page
        assert "{}" not in page and "<td>none</td>" in page
        filtered = (await client.get("/mapping?sku=NOPE")).text
        assert "DUP-1" not in filtered and "{}" not in filtered


async def test_the_ledger_shows_when_each_entry_was_applied_and_pages_back() -> None:
    services = FakeServices()
    services.answers[("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")] = {
        "sku": "SKU-1",
        "entries": [
            {"id": "1760000000000-0", "command": "set_on_hand", "quantity": "10"},
            {"id": "1760000061000-3", "command": "reserve", "quantity": "2"},
        ],
        "next": "1760000000000-0",
    }
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/stock?sku=SKU-1")).text
        ledger = page[page.index('<table class="ledger">') :]
        assert "<th>time (UTC)</th>" in ledger
        # newest first, each with the time the adjuster applied it (the entry id's clock)
        assert ledger.index("2025-10-09 08:54:21 UTC") < ledger.index("2025-10-09 08:53:20 UTC")
        assert 'href="/stock?sku=SKU-1&amp;before=1760000000000-0"' in page
        (first,) = services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")
        assert "before" not in first.url.params

        older = (await client.get("/stock?sku=SKU-1&before=1760000000000-0")).text
        (_, second) = services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")
        assert second.url.params["before"] == "1760000000000-0"
        assert 'href="/stock?sku=SKU-1">Newest entries' in older

        bad = (await client.get("/stock?sku=SKU-1&before=yesterday")).text
        assert 'role="alert"' in bad and "not a ledger entry id" in bad
        assert len(services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")) == 2


def stock_in_stores(services: FakeServices) -> None:
    """SKU-1 (8 available at wh-1, no channel shares) as three stores show it."""
    inv = services.answers[("inventory-adjuster", "GET", "/inventory/SKU-1")]
    services.answers[("inventory-adjuster", "GET", "/inventory/SKU-1")] = {**inv, "shares": None}
    services.answers[("shopify-sync", "GET", "/status/stock/SKU-1")] = {
        "sku": "SKU-1",
        "stores": [
            {"shop": PARENT, "role": "parent", "mapped": True,
             "locations": {"wh-1": {"shows": 8, "applied_version": 5, "pending": None}}},
            {"shop": "child-eu.myshopify.com", "role": "child", "mapped": True,
             "locations": {"wh-1": {"shows": 5, "applied_version": 4,
                                    "pending": {"quantity": 8, "version": 5}}}},
            {"shop": "child-us.myshopify.com", "role": "child", "mapped": False,
             "locations": {"wh-1": {"shows": None, "applied_version": 0, "pending": None}}},
        ],
    }  # fmt: skip


def row_of(page: str, text: str) -> str:
    table = page[page.index('<table class="stores-stock">') :]
    table = table[: table.index("</table>")]
    (row,) = [r for r in table.split("<tr") if text in r]
    return row


async def test_the_stock_page_shows_each_store_beside_truth_with_drift_highlighted() -> None:
    services = FakeServices()
    stock_in_stores(services)
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/stock?sku=SKU-1")).text
        same = row_of(page, PARENT)
        assert 'class="drift"' not in same and "<td>8</td><td>8</td><td>0</td>" in same
        drifted = row_of(page, "child-eu.myshopify.com")
        assert drifted.startswith(' class="drift"')
        assert "<td>8</td><td>5</td><td>-3</td>" in drifted and "8 (truth version 5)" in drifted
        unlisted = row_of(page, "child-us.myshopify.com")
        assert "not listed" in unlisted and 'class="drift"' not in unlisted


async def test_the_stock_page_still_shows_truth_when_shopify_sync_does_not_answer() -> None:
    services = FakeServices()
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/stock?sku=SKU-1")).text
        assert "wh-1" in page and "<td>10</td>" in page  # truth
        assert 'role="alert"' in page and "shopify-sync: HTTP 404" in page


async def test_checking_the_stores_now_is_a_targeted_reconciliation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            csrf = await log_in(client)
            page = (await client.get("/stock?sku=SKU-1")).text
            assert 'action="/stock/check"' in page
            r = await client.post("/stock/check", data={"csrf": csrf, "sku": "SKU-1"})
        assert r.status_code == 303
        assert r.headers["location"] == "/stock?sku=SKU-1&started=job-43"
        (call,) = services.calls("shopify-sync", "POST", "/reconcile")
        assert services.body(call) == {"skus": ["SKU-1"]}
        (line,) = [rec for rec in caplog.records if rec.getMessage() == "audit: reconcile"]
        assert getattr(line, "sku", None) == "SKU-1"
        assert "job-43" in (await client.get(r.headers["location"])).text
        refused = await client.post("/stock/check", data={"sku": "SKU-1"})
        assert refused.status_code == 403


def effective(**over: object) -> dict[str, object]:
    every = ["slack", "email"]
    kinds = ["low_stock", "out_of_stock", "back_in_stock", "oversell", "reorder", "velocity",
             "unmapped_line"]  # fmt: skip
    return {
        "low_stock": None, "out_of_stock": True, "back_in_stock": True, "oversell": True,
        "unmapped_line": True,
        "reorder_point": None, "reorder_quantity": None, "velocity_per_minute": None,
        "quiet_period_s": 0, "channels": {**dict.fromkeys(kinds, every), "digest": every},
    } | over  # fmt: skip


async def test_the_alerts_page_shows_the_rules_in_effect() -> None:
    services = FakeServices()
    routed = {**effective()["channels"], "low_stock": ["email"]}  # type: ignore[dict-item]
    services.answers[("notifier", "GET", "/rules")] = {
        "revision": 0,
        "rules": {"default": {}, "tags": {}, "by_tag": {}, "by_sku": {}},
        "in_effect": {
            "default": effective(),
            "by_sku": {
                "MUG-<9>": effective(
                    low_stock=4, back_in_stock=False, unmapped_line=False, channels=routed
                )
            },
        },
        "channels": ["slack", "email"],
    }
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/alerts")).text
        rules = page[page.index('<table class="rules">') :]
        rules = rules[: rules.index("</table>")]
        default, mug = rules.split("<tr>")[2:]
        assert "<td>every SKU without a rule of its own</td>" in default
        # low stock off; oversell and unmapped lines on
        assert "<td>on</td><td>on</td><td>off</td><td>on</td><td>on</td>" in default
        assert "all: slack, email" in default
        assert "MUG-&lt;9&gt;" in mug
        assert "<td>on</td><td>off</td><td>at or below 4</td><td>on</td><td>off</td>" in mug
        assert "low_stock: email" in mug and "others: slack, email" in mug
        assert "MUG-9" in page  # the recent alerts are still there


async def test_the_alerts_page_says_when_the_rules_cannot_be_read() -> None:
    async with console() as (client, _):
        await log_in(client)
        page = (await client.get("/alerts")).text
        assert 'role="alert"' in page and "notifier: HTTP 404" in page
        assert "MUG-9" in page and "out_of_stock" in page


async def test_the_dlq_page_shows_the_parked_webhooks() -> None:
    services = FakeServices()
    services.answers[("webhook-receiver", "GET", "/admin/parked")] = {
        "topic": "webhooks.parked.v1",
        "counts": {"carts/create": 3, "<script>x</script>": 1},
        "recent": [
            {"at": 1_760_000_061.0, "shop": PARENT, "shopify_topic": "carts/create",
             "webhook_id": "wh-9", "record_bytes": 812},
        ],
    }  # fmt: skip
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/dlq")).text
        (call,) = services.calls("webhook-receiver", "GET", "/admin/parked")
        assert call.url.params["limit"] == "50"
    parked = page[page.index("Parked webhooks") :]
    assert "4 deliveries" in parked and "<td>carts/create</td><td>3</td>" in parked
    assert "&lt;script&gt;" in parked and "<script>" not in page
    row = "<td>2025-10-09 08:54:21 UTC</td><td>parent-store.myshopify.com</td><td>carts/create</td>"
    assert row in parked and "wh-9" in parked and "812" in parked
    assert "inventory.commands.v1.dlq.inventory-adjuster" in page  # the DLQs are still there


async def test_the_dlq_page_says_when_the_parked_webhooks_cannot_be_read() -> None:
    async with console() as (client, _):
        await log_in(client)
        page = (await client.get("/dlq")).text
    parked = page[page.index("Parked webhooks") :]
    assert 'role="alert"' in parked and "webhook-receiver: HTTP 404" in parked


async def test_the_replay_audit_line_names_the_console_as_its_writer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, _):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            csrf = await log_in(client)
            form = {"csrf": csrf, "service": "inventory-adjuster", "id": RECORD_ID,
                    "topic": DLQ_TOPIC}  # fmt: skip
            await client.post("/dlq/replay", data=form)
    (record,) = [r for r in caplog.records if r.getMessage() == "audit: dlq replay"]
    line = orjson.loads(JsonFormatter("ops-console").format(record))
    assert line["service"] == "ops-console"  # the actor's service, not the one replaying
    assert line["target_service"] == "inventory-adjuster" and line["record"] == RECORD_ID
    user, _, session = line["who"].partition("/")  # the user, then the console session
    assert user and session.startswith("console:")
