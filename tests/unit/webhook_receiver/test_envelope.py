"""The hand-encoded ``shopify.webhook.received`` record decodes to exactly the event the
pydantic model would have encoded, and carries the signed body byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, decode, encode
from webhook_receiver.envelope import shopify_received

NOW = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
optional_header = st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=255))


def both(body: bytes, **fields: Any) -> tuple[Any, Any]:
    """(the hand-encoded record decoded, the model's encoding decoded)."""
    hand = shopify_received(
        event_id="e-1",
        correlation_id="c-1",
        source="webhook-receiver",
        shop="s.myshopify.com",
        body=body,
        now=NOW,
        **fields,
    )
    model = ShopifyWebhookReceived(
        id="e-1",
        correlation_id="c-1",
        source="webhook-receiver",
        shop="s.myshopify.com",
        occurred_at=NOW,
        payload=ShopifyWebhook(
            topic=fields["topic"],
            shop="s.myshopify.com",
            webhook_id=fields["webhook_id"],
            event_id=fields["shopify_event_id"],
            triggered_at=fields["triggered_at"],
            api_version=fields["api_version"],
            received_at=NOW,
            body=orjson.loads(body),
        ),
    )
    return decode(hand), decode(encode(model))


@given(
    doc=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    topic=st.text(min_size=1, max_size=30),
    webhook_id=st.text(min_size=1, max_size=40),
    event_id=optional_header,
    triggered_at=optional_header,
    api_version=optional_header,
)
def test_decodes_to_the_models_event(doc, topic, webhook_id, event_id, triggered_at, api_version):
    hand, model = both(
        orjson.dumps(doc),
        topic=topic,
        webhook_id=webhook_id,
        shopify_event_id=event_id,
        triggered_at=triggered_at,
        api_version=api_version,
    )
    assert hand == model


def test_the_signed_bytes_are_kept_exactly():
    # Whitespace, key order and an id too large for a double: all as Shopify sent them
    # (parsing and encoding again turned the id into 1.2345678901234568e+29).
    body = b'{ "id" : 123456789012345678901234567890 ,\n "b": 1, "a": [ ] }\n'
    value = shopify_received(
        event_id="e-1",
        correlation_id="c-1",
        source="webhook-receiver",
        shop="s.myshopify.com",
        topic="orders/create",
        webhook_id="w-1",
        shopify_event_id=None,
        triggered_at=None,
        api_version="2026-10",
        body=body,
        now=NOW,
    )
    assert value.endswith(b'"body":' + body + b"}}")
    event = decode(value)
    assert isinstance(event, ShopifyWebhookReceived)
    assert event.payload.body["id"] == 123456789012345678901234567890
    assert list(event.payload.body) == ["id", "b", "a"]
    assert event.occurred_at == NOW and event.payload.received_at == NOW
