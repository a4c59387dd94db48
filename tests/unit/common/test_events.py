from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    decode,
    encode,
    stable_id,
)


def test_round_trip_selects_the_payload_model_by_type():
    event = InventoryCommandRequested(
        source="test",
        payload=InventoryCommand(
            command="reserve", idempotency_key="k1", sku="SKU-1", location="wh-1", quantity=2
        ),
    )
    back = decode(encode(event))
    assert isinstance(back, InventoryCommandRequested)
    assert back.payload.quantity == 2
    assert back.id == event.id
    assert back.correlation_id == event.correlation_id


def test_unknown_type_is_rejected():
    raw = b'{"type": "nope", "source": "x", "payload": {}}'
    with pytest.raises(ValidationError):
        decode(raw)


def test_tombstone_is_rejected():
    with pytest.raises(ValueError, match="tombstone"):
        decode(None)


def test_negative_quantity_only_for_adjust():
    with pytest.raises(ValidationError, match="must not be negative"):
        InventoryCommand(command="reserve", idempotency_key="k", sku="A", location="l", quantity=-1)
    cmd = InventoryCommand(
        command="adjust", idempotency_key="k", sku="A", location="l", quantity=-3
    )
    assert cmd.quantity == -3


def test_stable_id_is_deterministic_and_distinct():
    assert stable_id("a", "b") == stable_id("a", "b")
    assert stable_id("a", "b") != stable_id("ab")


def test_webhook_envelope_keeps_body():
    event = ShopifyWebhookReceived(
        source="t",
        shop="s.myshopify.com",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload=ShopifyWebhook(
            topic="orders/create", shop="s.myshopify.com", webhook_id="w", body={"id": 1}
        ),
    )
    back = decode(encode(event))
    assert isinstance(back, ShopifyWebhookReceived)
    assert back.payload.body == {"id": 1}
