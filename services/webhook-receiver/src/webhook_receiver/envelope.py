"""The ``shopify.webhook.received`` record, encoded by hand around the raw body (ADR 0015).

The body Shopify signed has been checked to be a JSON object before it gets here, so it goes
into the record as the exact bytes received: parsing it into a model and encoding it again
cost most of the edge's CPU per delivery and changed nothing a consumer reads. The other
fields are those of :class:`ShopifyWebhookReceived`, in its order and with its defaults;
tests decode both encodings and compare them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from stocksync_common.events import ShopifyWebhookReceived

SHOPIFY_RECEIVED: str = ShopifyWebhookReceived.model_fields["type"].default
SCHEMA_VERSION: int = ShopifyWebhookReceived.model_fields["schema_version"].default


def shopify_received(
    *,
    event_id: str,
    correlation_id: str,
    source: str,
    shop: str,
    topic: str,
    webhook_id: str,
    shopify_event_id: str | None,
    triggered_at: str | None,
    api_version: str | None,
    body: bytes,
    now: datetime | None = None,
) -> bytes:
    """The encoded envelope; ``body`` must be a JSON object (it is not parsed again)."""
    at = now or datetime.now(UTC)
    head = orjson.dumps(
        {
            "id": event_id,
            "type": SHOPIFY_RECEIVED,
            "schema_version": SCHEMA_VERSION,
            "occurred_at": at,
            "correlation_id": correlation_id,
            "causation_id": None,
            "source": source,
            "shop": shop,
            "payload": {
                "topic": topic,
                "shop": shop,
                "webhook_id": webhook_id,
                "event_id": shopify_event_id,
                "triggered_at": triggered_at,
                "api_version": api_version,
                "received_at": at,
            },
        },
        option=orjson.OPT_UTC_Z,
    )
    # head ends with the two closing braces of payload and envelope: the body goes before them.
    return b"".join((head[:-2], b',"body":', body, b"}}"))
