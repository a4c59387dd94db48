"""Composition root for wms-connector."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from stocksync_common.breaker import CircuitBreaker
from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.redis_client import connect as connect_redis
from stocksync_common.topics import ORDERS, WEBHOOKS_WMS
from wms_connector.adapters.order_state import RedisOrderState
from wms_connector.adapters.truth import HttpTruth
from wms_connector.adapters.wms_client import WmsClient
from wms_connector.handlers import WmsHandler
from wms_connector.metrics import circuit_changed
from wms_connector.outbound import OrderForwarder
from wms_connector.reconcile import WmsReconciler
from wms_connector.settings import Settings
from wms_connector.status import OutboundStatus


@dataclass
class Container:
    settings: Settings
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    loop: ConsumerLoop
    orders_consumer: AIOKafkaConsumer
    orders_loop: ConsumerLoop
    redis: Redis
    http: httpx.AsyncClient
    status: OutboundStatus
    reconciler: WmsReconciler


def build(
    settings: Settings, http: httpx.AsyncClient | None = None, redis: Redis | None = None
) -> Container:
    """Everything wired; ``http`` and ``redis`` are test seams."""
    s = settings
    producer = make_producer(s.kafka_bootstrap_servers, s.service_name)
    redis = redis or connect_redis(s.redis_url)
    http = http or httpx.AsyncClient(timeout=s.wms_timeout_s, trust_env=False)
    consumer = make_consumer(s.kafka_bootstrap_servers, s.consumer_group, s.service_name)
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=s.consumer_group,
        topics=[WEBHOOKS_WMS],
        handler=WmsHandler(producer).handle_batch,
    )
    wms = WmsClient(http, s.wms_url, s.wms_api_key, s.wms_timeout_s)
    breaker = CircuitBreaker(
        failure_threshold=s.breaker_failures, open_s=s.breaker_open_s, on_change=circuit_changed
    )
    status = OutboundStatus(breaker)
    forwarder = OrderForwarder(wms, RedisOrderState(redis), breaker, status, s.wms_backoff_s)
    orders_consumer = make_consumer(
        s.kafka_bootstrap_servers, s.orders_consumer_group, s.service_name
    )
    orders_loop = ConsumerLoop(
        consumer=orders_consumer,
        producer=producer,
        group=s.orders_consumer_group,
        topics=[ORDERS],
        handler=forwarder.handle_batch,
    )
    reconciler = WmsReconciler(
        wms,
        HttpTruth(http, s.inventory_url),
        producer,
        s.reconcile_policy,
        s.reconcile_confirm_runs,
    )
    return Container(
        s, producer, consumer, loop, orders_consumer, orders_loop, redis, http, status, reconciler
    )
