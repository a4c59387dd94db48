"""Composition root for shopify-sync."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shopify_sync.adapters.catalog import Catalog
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.handlers import InventoryPusher
from shopify_sync.settings import Settings
from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.stores import load_stores
from stocksync_common.topics import INVENTORY_CHANGED


@dataclass
class Container:
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    loop: ConsumerLoop
    http: httpx.AsyncClient


def build(settings: Settings, http: httpx.AsyncClient | None = None) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file)
    http = http or httpx.AsyncClient(
        timeout=settings.request_timeout_s,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    client = ShopifyClient(http)
    pusher = InventoryPusher(stores, client, Catalog(client), settings.max_stale_retries)
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.consumer_group, settings.service_name
    )
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=settings.consumer_group,
        topics=[INVENTORY_CHANGED],
        handler=pusher.handle_batch,
    )
    return Container(producer, consumer, loop, http)
