"""The catalog's two consumers (ADR 0011, 0021).

``shopify-sync-catalog`` reads the products/* webhooks of every store from
``webhooks.shopify.v1``, keeps the SKU mapping and hands each one on to ``catalog.v1`` as a
``catalog.product_changed`` event keyed ``{shop}/{product id}`` (one product's events stay in
order); collections/* webhooks go on the same way as ``catalog.collection_changed``, keyed
``{shop}/{collection id}``. ``shopify-sync-propagation`` reads ``catalog.v1`` and runs the
parent-to-child propagation of products and collections. Two groups, so mapping upkeep and
child writes have their own lag, retries and DLQ: a slow or failing child store never holds
back the mapping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition

from shopify_sync.adapters import metrics
from shopify_sync.collection_propagator import CollectionPropagator
from shopify_sync.domain.catalog import gid
from shopify_sync.mapping import CatalogMapping
from shopify_sync.own_events import (
    CatalogCollectionChange,
    CatalogCollectionChanged,
    CatalogProductChange,
    CatalogProductChanged,
    CollectionTopic,
    ProductTopic,
)
from shopify_sync.propagator import Propagator
from stocksync_common.consumer import Incoming, handling
from stocksync_common.events import ShopifyWebhookReceived, stable_id
from stocksync_common.kafka import send_event
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
PRODUCT_TOPICS = frozenset({"products/create", "products/update", "products/delete"})
COLLECTION_TOPICS = frozenset({"collections/create", "collections/update", "collections/delete"})
PRODUCT, COLLECTION = "catalog.product_changed", "catalog.collection_changed"  # event types


def product_change(
    event: ShopifyWebhookReceived, store: Store, source: str
) -> tuple[str, CatalogProductChanged]:
    """The ``catalog.v1`` key and event for one products/* webhook (same correlation id;
    caused by the webhook; the same id when the webhook record is handled again)."""
    hook = event.payload
    body = hook.body
    number = body.get("id")
    product_id = str(body.get("admin_graphql_api_id") or gid("Product", number))
    change = CatalogProductChange(
        shop=store.shop, role=store.role, topic=cast(ProductTopic, hook.topic),
        product_id=product_id, updated_at=_text(body.get("updated_at")),
        webhook_id=hook.webhook_id, body=body,
    )  # fmt: skip
    out = CatalogProductChanged(payload=change, **_caused_by(event, store, source, PRODUCT))
    key = f"{store.shop}/{number if number is not None else product_id.rsplit('/', 1)[-1]}"
    return key, out


def collection_change(
    event: ShopifyWebhookReceived, store: Store, source: str
) -> tuple[str, CatalogCollectionChanged]:
    """The ``catalog.v1`` key and event for one collections/* webhook (as for products)."""
    hook = event.payload
    body = hook.body
    number = body.get("id")
    collection_id = str(body.get("admin_graphql_api_id") or gid("Collection", number))
    change = CatalogCollectionChange(
        shop=store.shop, role=store.role, topic=cast(CollectionTopic, hook.topic),
        collection_id=collection_id, updated_at=_text(body.get("updated_at")),
        webhook_id=hook.webhook_id, body=body,
    )  # fmt: skip
    out = CatalogCollectionChanged(payload=change, **_caused_by(event, store, source, COLLECTION))
    suffix = number if number is not None else collection_id.rsplit("/", 1)[-1]
    return f"{store.shop}/{suffix}", out


def _caused_by(
    event: ShopifyWebhookReceived, store: Store, source: str, kind: str
) -> dict[str, Any]:
    """The envelope fields of a ``kind`` event handed on from ``event``: its correlation id,
    caused by it, the same id when the webhook record is handled again."""
    return {
        "id": stable_id(kind, event.id), "correlation_id": event.correlation_id,
        "causation_id": event.id, "source": source, "shop": store.shop,
    }  # fmt: skip


def _text(value: Any) -> str | None:
    return str(value) if value else None


@dataclass
class ProductsHandler:
    """``shopify-sync-catalog``: products/* webhooks to the SKU mapping and to ``catalog.v1``;
    collections/* webhooks to ``catalog.v1`` (with propagation on).

    The offsets are committed only after every event of the batch was acknowledged by the
    broker, so a webhook is never mapped without being handed on (nor lost between)."""

    stores: StoresConfig
    mapping: CatalogMapping
    producer: AIOKafkaProducer | None = None  # None: propagation off, nothing handed on
    topic: str = "catalog.v1"
    source: str = "shopify-sync"

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        sent: list[asyncio.Future[RecordMetadata]] = []
        for item in items:
            event = item.event
            if not isinstance(event, ShopifyWebhookReceived):
                continue
            hook = event.payload
            store = self.stores.by_shop(hook.shop)
            if store is None:
                continue
            if hook.topic in COLLECTION_TOPICS and self.producer is not None:
                with handling(item, "shopify-sync collections"):
                    key, moved = collection_change(event, store, self.source)
                    sent.append(await send_event(self.producer, self.topic, key, moved))
                continue
            if hook.topic not in PRODUCT_TOPICS:
                continue
            with handling(item, "shopify-sync mapping"):
                touched = await self.mapping.apply_webhook(store, hook.topic, hook.body)
                log.info("mapping updated", extra={"shop": store.shop, "skus": touched})
                if self.producer is not None:
                    key, change = product_change(event, store, self.source)
                    sent.append(await send_event(self.producer, self.topic, key, change))
        for future in sent:
            await future


@dataclass
class PropagationHandler:
    """``shopify-sync-propagation``: each ``catalog.product_changed`` to the propagator, each
    ``catalog.collection_changed`` to the collection propagator. A failure raises, so the
    consumer's retry topics and DLQ apply (ADR 0009)."""

    stores: StoresConfig
    propagator: Propagator
    collections: CollectionPropagator | None = None

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            event = item.event
            if isinstance(event, CatalogCollectionChanged) and self.collections is not None:
                target: Propagator | CollectionPropagator = self.collections
            elif isinstance(event, CatalogProductChanged):
                target = self.propagator
            else:
                continue
            change = event.payload
            store = self.stores.by_shop(change.shop)
            if store is None:  # no longer configured
                continue
            with handling(item, "shopify-sync propagation"):
                done = await target.on_webhook(store, change.topic, change.body)
                if target is self.collections:
                    done = f"collection-{done}"
                metrics.CATALOG_WEBHOOKS.labels(store.shop, done).inc()
                log.info("catalog webhook", extra={"shop": store.shop, "outcome": done})
