"""Composition root for wms-connector: the clients wired into the handlers, and the service
as the runtime runs it (two consumer groups and the reconciliation schedule)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from stocksync_common import wiring
from stocksync_common.breaker import CircuitBreaker
from stocksync_common.http1 import StreamTransport
from stocksync_common.kafka import producer_from
from stocksync_common.redis_client import connect_settings
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.runtime import (
    OFF_PATH_FETCH_MAX_WAIT_MS,
    OFF_PATH_FETCH_MIN_BYTES,
    Consumer,
    Service,
    Task,
    registrar,
)
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS, WEBHOOKS_WMS
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
    handler: WmsHandler
    forwarder: OrderForwarder
    redis: Redis
    http: httpx.AsyncClient
    status: OutboundStatus
    reconciler: WmsReconciler


def build(
    settings: Settings, http: httpx.AsyncClient | None = None, redis: Redis | None = None
) -> Container:
    """Everything wired; ``http`` and ``redis`` are test seams."""
    s = settings
    producer = producer_from(s)
    redis = redis or connect_settings(s)
    # the lean HTTP/1.1 transport: an order's call to the WMS at a third of httpcore's CPU
    http = http or httpx.AsyncClient(
        timeout=s.wms_timeout_s, trust_env=False, transport=StreamTransport()
    )
    wms = WmsClient(http, s.wms_url, s.wms_api_key, s.wms_timeout_s)
    breaker = CircuitBreaker(
        failure_threshold=s.breaker_failures, open_s=s.breaker_open_s, on_change=circuit_changed
    )
    status = OutboundStatus(breaker)
    orders = RedisOrderState(redis)
    forwarder = OrderForwarder(wms, orders, breaker, status, s.wms_backoff_s)
    reconciler = WmsReconciler(
        wms,
        HttpTruth(http, s.inventory_url),
        producer,
        s.reconcile_policy,
        s.reconcile_confirm_runs,
    )
    return Container(
        s, producer, WmsHandler(producer, orders), forwarder, redis, http, status, reconciler
    )


def service(settings: Settings, http: httpx.AsyncClient | None = None) -> Service[Container]:
    """wms-connector as the runtime runs it; ``http`` is a test seam."""
    s = settings

    def tasks(c: Container) -> list[Task]:
        if s.reconcile_interval_s <= 0:
            return []
        return [Task("reconcile", lambda: c.reconciler.schedule(s.reconcile_interval_s))]

    return Service(
        settings=s,
        build=lambda: build(s, http=http),
        consumers=[
            Consumer(s.consumer_group, (WEBHOOKS_WMS,), lambda c: c.handler.handle_batch),
            Consumer(
                s.orders_consumer_group,
                (ORDERS,),
                lambda c: c.forwarder.handle_batch,
                name="orders-consumer",
                # warehouse orders follow a quarter of a second later: in batches (#19)
                fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
                fetch_max_wait_ms=OFF_PATH_FETCH_MAX_WAIT_MS,
            ),
        ],
        producer=wiring.producer,
        produces=(INVENTORY_COMMANDS, ORDERS),  # shipments: order.shipped on orders.v1
        redis_keys=RedisKeys(writes=("wms:order:*",)),  # adapters/order_state.py
        checks=wiring.redis_ready,
        closers=wiring.close_redis_and_http,
        tasks=tasks,
    )


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
