"""Attacks on the webhook edge that a valid signature does not stop (#22): Shopify's HMAC
covers the body only, so a captured signed body can be sent again under another topic, for
another shop that shares the app's secret, or long after it was first delivered. Each attack
is sent to the receiver's real app (in process, with a recording producer and ledger) and
must be refused, counted and leave no erasure or event behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from unit.webhook_receiver.harness import (
    OTHER_SHOP,
    SHOP,
    Edge,
    order_body,
    running_edge,
    sample_body,
    settings,
)

from stocksync_common.stores import Store
from stocksync_common.topics import COMPLIANCE, WEBHOOKS_SHOPIFY, WEBHOOKS_WMS, dlq_topic

SHOPIFY_DLQ = dlq_topic(WEBHOOKS_SHOPIFY, "webhook-receiver")


def stamp(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


async def refused(edge: Edge, outcome: str) -> float:
    text = (await edge.client.get("/metrics")).text
    line = f'stocksync_webhooks_total{{outcome="{outcome}",source="shopify"}}'
    wms = f'stocksync_webhooks_total{{outcome="{outcome}",source="wms"}}'
    total = 0.0
    for row in text.splitlines():
        if row.startswith((line, wms)):
            total += float(row.rsplit(" ", 1)[1])
    return total


async def test_an_order_body_relabelled_shop_redact_erases_nothing() -> None:
    async with running_edge() as edge:
        await edge.shopify(order_body())  # a delivery record the erasure would remove
        before = await refused(edge, "mismatch")
        captured = order_body()
        r = await edge.shopify(captured, "shop/redact", webhook_id=str(uuid.uuid4()))
        assert r.status_code == 400 and "not a shop/redact request" in r.json()["detail"]
        assert edge.producer.on(COMPLIANCE) == []  # no erasure requested downstream
        assert "erase" not in edge.ledger.calls  # and none done here
        (kept,) = edge.producer.on(SHOPIFY_DLQ)  # kept with the reason, not lost
        assert b"not a shop/redact request" in kept.value
        assert await refused(edge, "mismatch") == before + 1


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request"])
async def test_an_order_body_relabelled_as_a_customer_request_is_refused(topic: str) -> None:
    async with running_edge() as edge:
        r = await edge.shopify(order_body(), topic)
        assert r.status_code == 400
        assert edge.producer.on(COMPLIANCE) == []


async def test_a_real_shop_redact_of_one_shop_sent_for_another_is_refused() -> None:
    """A public app signs every shop's deliveries with the same secret: a shop/redact body
    captured from one shop must not erase another."""
    shared = b"the-apps-one-secret"
    shops = {
        SHOP: Store(shop=SHOP, access_token="shpat_a", webhook_secret=shared.decode()),
        OTHER_SHOP: Store(shop=OTHER_SHOP, access_token="shpat_b", webhook_secret=shared.decode()),
    }
    async with running_edge(shop_stores=shops) as edge:
        body = sample_body("shop/redact", shop=SHOP)
        r = await edge.shopify(body, "shop/redact", secret=shared, shop=OTHER_SHOP)
        assert r.status_code == 400 and "shop_domain" in r.json()["detail"]
        assert edge.producer.on(COMPLIANCE) == []
        ok = await edge.shopify(body, "shop/redact", secret=shared, shop=SHOP)
        assert ok.status_code == 200  # its own shop's request goes through


@pytest.mark.parametrize(
    ("triggered_at", "detail"),
    [
        (stamp(-timedelta(days=3)), "old"),
        (stamp(timedelta(hours=1)), "in the future"),
        ("yesterday", "ISO 8601"),
        (None, "missing header X-Shopify-Triggered-At"),
    ],
)
async def test_a_stale_or_unstamped_shopify_delivery_is_refused(
    triggered_at: str | None, detail: str
) -> None:
    async with running_edge() as edge:
        r = await edge.shopify(order_body(), X_Shopify_Triggered_At=triggered_at)
        assert r.status_code == 400 and detail in r.json()["detail"]
        assert edge.producer.sent == []  # neither published nor kept


async def test_a_delivery_inside_the_window_goes_through() -> None:
    async with running_edge() as edge:
        old_but_fine = stamp(-timedelta(hours=47))
        r = await edge.shopify(order_body(), X_Shopify_Triggered_At=old_but_fine)
        assert r.status_code == 200
        assert len(edge.producer.on(WEBHOOKS_SHOPIFY)) == 1


def wms_event(occurred_at: datetime, event_id: str | None = None) -> bytes:
    doc: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": "adjustment",
        "occurred_at": occurred_at.isoformat(),
        "lines": [{"sku": "TEE", "quantity": 5, "location": "wh-1"}],
    }
    return orjson.dumps(doc)


async def test_a_captured_wms_adjustment_cannot_be_applied_again() -> None:
    """Inside the window the event id is remembered (a duplicate); after it, the signed
    ``occurred_at`` is too old. Either way it is applied once."""
    async with running_edge() as edge:
        before = await refused(edge, "stale")
        body = wms_event(datetime.now(UTC))
        assert (await edge.wms(body)).status_code == 200
        again = await edge.wms(body)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        old = wms_event(datetime.now(UTC) - timedelta(days=31))
        r = await edge.wms(old)
        assert r.status_code == 400 and "old" in r.json()["detail"]
        assert len(edge.producer.on(WEBHOOKS_WMS)) == 1
        assert await refused(edge, "stale") == before + 1


def test_ids_are_remembered_at_least_as_long_as_deliveries_are_accepted() -> None:
    with pytest.raises(ValueError, match="DEDUPE_TTL_S must cover"):
        settings(dedupe_ttl_s=72 * 3600, max_delivery_age_s=72 * 3600)
    assert settings(dedupe_ttl_s=72 * 3600, max_delivery_age_s=48 * 3600).dedupe_ttl_s


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_the_receiver_does_not_describe_itself_in_production(path: str) -> None:
    real = "r" * 40
    async with running_edge(
        environment="production",
        admin_token=real,
        wms_webhook_secret=real,
        allow_insecure_transport=True,
    ) as edge:
        assert (await edge.client.get(path)).status_code == 404
    async with running_edge() as edge:  # development: the docs stay
        assert (await edge.client.get(path)).status_code == 200
