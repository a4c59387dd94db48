"""The rules API: bearer token, validation, an audit line, applied without a restart;
the rules file seeds Redis once; GET /alerts/recent."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from fastapi import FastAPI
from integration.notifier.harness import changed, feed, notifier, outbox_empty, settings_for

from notifier.bootstrap import seed_rules
from notifier.entrypoints import rules_api
from support.poll import await_for

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer it-admin-token"}


def api(container):
    app = FastAPI()
    app.state.container = container
    app.include_router(rules_api.router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


async def test_rules_api_validates_audits_and_applies_without_restart(
    kafka_bootstrap, redis_url, receiver, smtp, producer, caplog
):
    sku = f"API-{uuid.uuid4().hex[:8]}"
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    caplog.set_level(logging.INFO)
    async with notifier(settings, producer) as c, api(c) as http:
        assert (await http.get("/rules")).status_code == 401
        bad_token = {"Authorization": "Bearer nope"}
        assert (await http.put("/rules", json={}, headers=bad_token)).status_code == 401
        bad = await http.put("/rules", json={"default": {"low_stock": 0}}, headers=AUTH)
        assert bad.status_code == 422
        pager = {"default": {"channels": {"low_stock": ["pager"]}}}
        assert (await http.put("/rules", json=pager, headers=AUTH)).status_code == 422

        await feed(c, changed(sku, 1, 9, 4))  # no low-stock rule yet: nothing
        doc = {
            "tags": {sku: ["fragile"]},
            "by_tag": {"fragile": {"low_stock": 5, "channels": {"low_stock": ["slack"]}}},
        }
        put = await http.put("/rules", json=doc, headers=AUTH)
        assert put.status_code == 200
        got = (await http.get("/rules", headers=AUTH)).json()
        assert got["revision"] == put.json()["revision"]
        assert got["rules"]["by_tag"]["fragile"]["low_stock"] == 5

        await feed(c, changed(sku, 2, 4, 9), changed(sku, 3, 9, 3))  # re-arm, then cross
        await await_for("the alert", lambda: _some(receiver.messages("/slack", sku)))
        await await_for("outboxes drained", lambda: outbox_empty(c))
        recent = (await http.get("/alerts/recent", headers=AUTH)).json()["alerts"]
    assert [r["alert"]["kind"] for r in recent if r["alert"]["sku"] == sku] == ["low_stock"]
    audit = [r for r in caplog.records if r.getMessage() == "audit: rules replaced"]
    assert len(audit) == 1 and audit[0].who == "admin-token"  # type: ignore[attr-defined]
    assert "it-admin-token" not in caplog.text


async def test_get_rules_answers_the_rules_in_effect_not_only_the_stored_document(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    async with notifier(settings, producer) as c, api(c) as http:
        got = (await http.get("/rules", headers=AUTH)).json()
        assert got["rules"]["default"] == {}  # nothing stored: the document is empty...
        default = got["in_effect"]["default"]  # ...and yet these alerts fire
        assert default["out_of_stock"] and default["back_in_stock"] and default["oversell"]
        assert default["channels"]["out_of_stock"] == ["slack", "webhook", "email"]
        assert got["channels"] == ["slack", "webhook", "email"]
        doc = {"by_sku": {"MUG-1": {"low_stock": 4, "channels": {"low_stock": ["email"]}}}}
        assert (await http.put("/rules", json=doc, headers=AUTH)).status_code == 200
        mug = (await http.get("/rules", headers=AUTH)).json()["in_effect"]["by_sku"]["MUG-1"]
        assert mug["low_stock"] == 4 and mug["out_of_stock"] is True
        assert mug["channels"]["low_stock"] == ["email"]
        assert mug["channels"]["oversell"] == ["slack", "webhook", "email"]


async def test_the_rules_file_seeds_redis_once(
    kafka_bootstrap, redis_url, receiver, smtp, producer, tmp_path
):
    path = tmp_path / "rules.yaml"
    path.write_text("default:\n  low_stock: 7\nby_sku:\n  X:\n    low_stock: 2\n")
    settings = settings_for(
        kafka_bootstrap, redis_url, receiver, smtp[1], notifier_rules_file=str(path)
    )
    async with notifier(settings, producer) as c:
        await seed_rules(c)
        assert (await c.rules.current()).resolve("X").low_stock == 2
        async with api(c) as http:
            await http.put("/rules", json={"default": {"low_stock": 3}}, headers=AUTH)
    async with notifier(settings, producer) as again:  # a restart: the API's rules stay
        await seed_rules(again)
        assert (await again.rules.current()).resolve("X").low_stock == 3
    path.write_text("default:\n  low_stock: -1\n")
    async with notifier(settings, producer) as broken:
        with pytest.raises(RuntimeError, match="invalid rules file"):
            await seed_rules(broken)


async def _some(coro):
    return (await coro) or None
