"""The console shows the services its one setting names (``STOCKSYNC_CONSOLE_SERVICES``, a
JSON object written by scripts/generate_deploy.py and scripts/stack.py), not a list in its
code: a service it has never heard of appears on the dead-letter page once it is named."""

from __future__ import annotations

import json

import pytest
from unit.ops_console.fakes import HOSTS, FakeServices, console, log_in

from ops_console.settings import Settings

NEW, NEW_HOST = "price-watch", "pw.test"
NEW_DLQ = "inventory.changed.v1.dlq.price-watch"


def test_the_setting_is_a_json_object_read_in_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = {"notifier": "http://notifier:8085", NEW: "http://price-watch:8087"}
    monkeypatch.setenv("STOCKSYNC_CONSOLE_SERVICES", json.dumps(urls))
    assert list(Settings().backend_urls().items()) == list(urls.items())


def test_a_url_that_is_not_http_is_refused_naming_the_service() -> None:
    with pytest.raises(ValueError, match=f"not an http\\(s\\) URL for {NEW}"):
        Settings(console_services={"notifier": "http://notifier:8085", NEW: "price-watch:8087"})


def test_production_refuses_a_console_that_shows_no_service() -> None:
    with pytest.raises(ValueError, match="STOCKSYNC_CONSOLE_SERVICES names no service"):
        Settings(
            environment="production",
            admin_token="a-real-secret-long-enough-for-production",
            console_session_key="a-session-key-of-its-own-long-enough",
            allow_insecure_transport=True,
        )


async def test_a_service_named_in_the_setting_shows_its_dead_letters() -> None:
    services = FakeServices(hosts={**HOSTS, NEW: NEW_HOST})
    topic = {"topic": NEW_DLQ, "group": NEW, "original_topic": "inventory.changed.v1"}
    services.answers[(NEW, "GET", "/admin/dlq")] = {"topics": [{**topic, "depth": 3}]}
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/dlq")).text
    assert NEW_DLQ in page and f"service={NEW}" in page
    assert len(services.calls(NEW, "GET", "/admin/dlq")) == 1
