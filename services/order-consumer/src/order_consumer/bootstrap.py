"""Composition root for order-consumer: builds the clients and wires them into the handler."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from order_consumer.adapters.redis_orders import RedisOrders
from order_consumer.compliance import ComplianceHandler
from order_consumer.handlers import OrderHandler
from order_consumer.settings import Settings
from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.redis_client import connect as connect_redis
from stocksync_common.stores import load_stores
from stocksync_common.topics import COMPLIANCE, INVENTORY_CHANGED, WEBHOOKS_SHOPIFY


@dataclass
class Container:
    redis: Redis
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    loop: ConsumerLoop
    # Its own group on inventory.changed.v1: the reservations inventory-adjuster refused.
    oversold_consumer: AIOKafkaConsumer
    oversold_loop: ConsumerLoop
    # Its own group on compliance.v1: erase or report what is kept about a customer or shop.
    compliance_consumer: AIOKafkaConsumer
    compliance_loop: ConsumerLoop


def build(settings: Settings) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file)
    redis = connect_redis(settings.redis_url)
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.consumer_group, settings.service_name
    )
    handler = OrderHandler(
        stores,
        producer,
        RedisOrders(redis, ttl_s=settings.order_state_ttl_s),
        save_attempts=settings.order_save_attempts,
        wms_locations=settings.wms_locations,
    )
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=settings.consumer_group,
        topics=[WEBHOOKS_SHOPIFY],
        handler=handler.handle_batch,
    )
    oversold_consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.oversold_consumer_group, settings.service_name
    )
    oversold_loop = ConsumerLoop(
        consumer=oversold_consumer,
        producer=producer,
        group=settings.oversold_consumer_group,
        topics=[INVENTORY_CHANGED],
        handler=handler.handle_inventory_batch,
    )
    compliance_consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.compliance_consumer_group, settings.service_name
    )
    compliance_loop = ConsumerLoop(
        consumer=compliance_consumer,
        producer=producer,
        group=settings.compliance_consumer_group,
        topics=[COMPLIANCE],
        handler=ComplianceHandler(redis).handle_batch,
    )
    return Container(
        redis,
        producer,
        consumer,
        loop,
        oversold_consumer,
        oversold_loop,
        compliance_consumer,
        compliance_loop,
    )
