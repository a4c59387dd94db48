"""Customer data stays off the event log (#22): the receiver publishes order-family bodies,
and parked ones, without names, emails, phones, addresses, notes or browser details, and
order-consumer reads exactly what it read from the body as signed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unit.webhook_receiver.harness import running_edge, sample_body

from order_consumer.domain.hooks import parse_webhook
from stocksync_common.events import ShopifyWebhookReceived
from stocksync_common.pii import PII_FIELDS, without_pii
from stocksync_common.topics import WEBHOOKS_PARKED, WEBHOOKS_SHOPIFY

ORDER_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/edited",
    "fulfillments/create",
    "refunds/create",
)


def personal_values(doc: Any, inside: bool = False) -> set[str]:
    """Every string found under a PII field of the sample (its email, names, street, phone,
    ...), long enough to mean something. Ids are not on the list: they name no one."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            found |= personal_values(value, inside or key in PII_FIELDS)
    elif isinstance(doc, list):
        for value in doc:
            found |= personal_values(value, inside)
    elif inside and isinstance(doc, str):
        if len(doc) >= 6 and doc not in ("United States", "disabled", "Kentucky"):
            found.add(doc)
    return found


@pytest.mark.parametrize("topic", ORDER_TOPICS)
async def test_an_order_webhook_is_published_without_the_customer(topic: str) -> None:
    body = sample_body(topic)
    original = json.loads(body)
    secrets = personal_values(original)
    async with running_edge() as edge:
        r = await edge.shopify(body, topic)
        assert r.status_code == 200, r.text
        (sent,) = edge.producer.on(WEBHOOKS_SHOPIFY)
    leaked = sorted(s for s in secrets if s.encode() in sent.value)
    assert leaked == []
    event = sent.event()
    assert isinstance(event, ShopifyWebhookReceived)
    assert not PII_FIELDS & keys_of(event.payload.body)
    # order-consumer reads the same order from what was published as from what was signed
    assert parse_webhook(topic, event.payload.body) == parse_webhook(topic, original)


def test_the_samples_do_carry_customer_data() -> None:
    """The test above means something only if the samples hold what it looks for."""
    sample = json.loads(sample_body("orders/create"))
    found = personal_values(sample)
    assert {"john@example.com", "123 Shipping Street"} <= found
    assert without_pii(sample)[1] > 5


async def test_a_parked_topic_is_kept_without_the_customer() -> None:
    body = sample_body("customers/create")
    assert b"@" in body  # an email in the sample
    async with running_edge() as edge:
        r = await edge.shopify(body, "customers/create")
        assert r.status_code == 200
        (sent,) = edge.producer.on(WEBHOOKS_PARKED)
    secrets = personal_values(json.loads(body))
    assert secrets and sorted(s for s in secrets if s.encode() in sent.value) == []


async def test_catalog_topics_are_published_as_signed() -> None:
    body = sample_body("products/update")
    async with running_edge() as edge:
        await edge.shopify(body, "products/update")
        (sent,) = edge.producer.on(WEBHOOKS_SHOPIFY)
    assert body in sent.value  # the signed bytes, spliced (ADR 0015)


def keys_of(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys_of(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in keys_of(v)}
    return set()
