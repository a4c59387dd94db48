"""The pages show what the services answer (escaped), never the admin secret; actions call
the right service and write one audit line."""

from __future__ import annotations

import logging

import httpx
import pytest
from unit.ops_console.fakes import DLQ_TOPIC, RECORD_ID, TOKEN, FakeServices, console, log_in

from ops_console.backends import BackendError, Backends
from ops_console.entrypoints.app import SECURITY_HEADERS


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/stores",
            [
                "child-eu.myshopify.com",
                '<span class="open">open</span>',
                "950 / 1000",
                "2025-10-09 08:53:20 UTC",
            ],
        ),
        ("/stock?sku=SKU-1", ["wh-1", "<td>10</td>", "reserve", "child-eu.myshopify.com"]),
        ("/mapping", ["parent-store.myshopify.com", "DUP-SKU", "duplicates"]),
        ("/alerts", ["MUG-9", "out_of_stock", "slack: sent"]),
        ("/reconcile", ["job-42", "child-eu.myshopify.com: 1/10 drifted"]),
        ("/dlq", [DLQ_TOPIC, "inventory-adjuster"]),
    ],
)
async def test_each_page_shows_the_services_data_and_never_the_secret(
    path: str, expected: list[str]
) -> None:
    async with console() as (client, _):
        await log_in(client)
        r = await client.get(path)
        assert r.status_code == 200
        for text in expected:
            assert text in r.text
        assert TOKEN not in r.text
        assert r.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_values_from_the_services_are_escaped() -> None:
    async with console() as (client, _):
        await log_in(client)
        page = (await client.get(f"/dlq/records?service=inventory-adjuster&topic={DLQ_TOPIC}")).text
        assert "SKU-&lt;b&gt;1&lt;/b&gt;" in page and "<b>1</b>" not in page


async def test_mapping_problems_filter_by_sku() -> None:
    async with console() as (client, _):
        await log_in(client)
        every = (await client.get("/mapping")).text
        assert "GONE-1, GONE-2, LOST-3" in every
        some = (await client.get("/mapping?sku=GONE")).text
        assert "GONE-1, GONE-2" in some and "LOST-3" not in some
        assert "DUP-SKU" not in some  # the duplicates list has nothing matching


async def test_an_unknown_sku_says_so() -> None:
    async with console() as (client, _):
        await log_in(client)
        assert "Unknown SKU NOPE" in (await client.get("/stock?sku=NOPE")).text


async def test_a_stock_answer_that_is_not_the_read_api_model_shows_an_error() -> None:
    services = FakeServices()
    services.answers[("inventory-adjuster", "GET", "/inventory/SKU-1")] = {"sku": "SKU-1"}
    async with console(services) as (client, _):
        await log_in(client)
        r = await client.get("/stock?sku=SKU-1")
        assert r.status_code == 200 and 'role="alert"' in r.text
        assert "answer for SKU-1 is unreadable" in r.text


async def test_a_service_that_is_down_shows_an_error_not_a_crash() -> None:
    services = FakeServices()
    services.answers.pop(("shopify-sync", "GET", "/status/stores"))
    async with console(services) as (client, _):
        await log_in(client)
        r = await client.get("/stores")
        assert r.status_code == 200 and "HTTP 404" in r.text and 'role="alert"' in r.text


async def test_a_record_shows_headers_value_and_stack() -> None:
    async with console() as (client, _):
        await log_in(client)
        page = (await client.get(f"/dlq/record?service=inventory-adjuster&id={RECORD_ID}")).text
        assert "inventory.command_requested" in page
        assert "&quot;not&quot;: &quot;valid&quot;" in page
        assert "Traceback: ValidationError" in page


async def test_a_redacted_record_says_so() -> None:
    services = FakeServices()
    path = ("inventory-adjuster", "GET", f"/admin/dlq/records/{RECORD_ID}")
    plain = await console_page(services, path)
    assert "was erased" not in plain
    services.answers[path] = {**services.answers[path], "redacted": True}
    assert "was erased (customers/redact, shop/redact)" in await console_page(services, path)


async def console_page(services: FakeServices, path: tuple[str, str, str]) -> str:
    async with console(services) as (client, _):
        await log_in(client)
        return (await client.get(f"/dlq/record?service={path[0]}&id={RECORD_ID}")).text


async def test_replay_calls_the_owning_service_and_writes_one_audit_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            csrf = await log_in(client)
            form = {
                "csrf": csrf,
                "service": "inventory-adjuster",
                "id": RECORD_ID,
                "topic": DLQ_TOPIC,
            }
            r = await client.post("/dlq/replay", data=form)
            assert r.status_code == 303 and "replayed=1" in r.headers["location"]
            (call,) = services.calls("inventory-adjuster", "POST", "/admin/dlq/replay")
            assert services.body(call) == {"ids": [RECORD_ID]}
            lines = [rec for rec in caplog.records if rec.getMessage() == "audit: dlq replay"]
            assert len(lines) == 1
            assert getattr(lines[0], "who", "").startswith("olga/console:")
            assert getattr(lines[0], "record", None) == RECORD_ID
            assert all(TOKEN not in rec.getMessage() for rec in caplog.records)


async def test_replay_to_an_unknown_service_is_refused() -> None:
    async with console() as (client, services):
        csrf = await log_in(client)
        r = await client.post(
            "/dlq/replay", data={"csrf": csrf, "service": "evil", "id": RECORD_ID}
        )
        assert r.status_code == 400
        assert services.calls("inventory-adjuster", "POST", "/admin/dlq/replay") == []


async def test_starting_a_reconciliation_is_an_audited_action(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            csrf = await log_in(client)
            r = await client.post("/reconcile", data={"csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/reconcile?started=job-43"
            assert len(services.calls("shopify-sync", "POST", "/reconcile")) == 1
            assert any(rec.getMessage() == "audit: reconcile" for rec in caplog.records)


async def test_connecting_the_stores_is_an_audited_action_showing_each_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            csrf = await log_in(client)
            assert 'action="/stores/connect"' in (await client.get("/stores")).text
            r = await client.post("/stores/connect", data={"csrf": csrf})
        assert r.status_code == 200
        assert len(services.calls("shopify-sync", "POST", "/stores/connect")) == 1
        assert any(rec.getMessage() == "audit: stores connect" for rec in caplog.records)
        assert "job-44" in r.text and "needs_mapping" in r.text
        assert "add the mapping &lt;b&gt;now&lt;/b&gt;" in r.text and "<b>now" not in r.text
        assert "&quot;wh-1&quot;: &quot;gid://x/2&quot;" in r.text
        assert r.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        assert "<script" not in r.text
        assert TOKEN not in r.text


async def test_backend_errors_never_carry_the_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        backends = Backends(http, {"notifier": "http://nt.test"}, TOKEN)
        with pytest.raises(BackendError) as info:
            await backends.get("notifier", "/alerts/recent")
        assert "unreachable" in str(info.value) and TOKEN not in str(info.value)


RECORDS = f"/dlq/records?service=inventory-adjuster&topic={DLQ_TOPIC}"


async def test_an_operator_replays_every_pending_record_of_a_topic_in_one_action(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = FakeServices()
    services.answers[("inventory-adjuster", "POST", "/admin/dlq/replay")] = {
        "replayed": 3, "ids": ["a", "b", "c"], "refused": {"d": "invalid_body: cannot succeed"},
    }  # fmt: skip
    async with console(services) as (client, _):
        csrf = await log_in(client)
        page = (await client.get(RECORDS)).text
        assert 'action="/dlq/replay-all"' in page and 'action="/dlq/purge"' in page
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            form = {"csrf": csrf, "service": "inventory-adjuster", "topic": DLQ_TOPIC}
            r = await client.post("/dlq/replay-all", data=form)
        assert r.status_code == 303
        (call,) = services.calls("inventory-adjuster", "POST", "/admin/dlq/replay")
        assert services.body(call) == {"topic": DLQ_TOPIC, "all": True}
        shown = (await client.get(r.headers["location"])).text
        assert "Replayed 3 record(s). 1 refused" in shown
        [line] = [rec for rec in caplog.records if rec.getMessage() == "audit: dlq replay all"]
        assert getattr(line, "topic", None) == DLQ_TOPIC and getattr(line, "refused", 0) == 1


async def test_a_purge_needs_the_topics_name_typed_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        csrf = await log_in(client)
        form = {"csrf": csrf, "service": "inventory-adjuster", "topic": DLQ_TOPIC}
        wrong = await client.post("/dlq/purge", data={**form, "confirm": "yes"})
        assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
        assert services.calls("inventory-adjuster", "POST", "/admin/dlq/purge") == []
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            r = await client.post("/dlq/purge", data={**form, "confirm": DLQ_TOPIC})
        assert r.status_code == 303 and "purged=1" in r.headers["location"]
        (call,) = services.calls("inventory-adjuster", "POST", "/admin/dlq/purge")
        assert services.body(call) == {"topic": DLQ_TOPIC, "confirm": DLQ_TOPIC}
        assert "Purged 1 record(s)." in (await client.get(r.headers["location"])).text
        assert [rec for rec in caplog.records if rec.getMessage() == "audit: dlq purge"]
