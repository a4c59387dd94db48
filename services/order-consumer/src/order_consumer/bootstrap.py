"""Composition root for order-consumer: builds the clients and wires them into the handlers,
and the service as the runtime runs it (three consumer groups)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from order_consumer.adapters.redis_orders import RedisOrders
from order_consumer.change_filter import decode_changes
from order_consumer.compliance import ComplianceHandler
from order_consumer.handlers import OrderHandler
from order_consumer.settings import Settings
from stocksync_common import wiring
from stocksync_common.kafka import producer_from
from stocksync_common.redis_client import connect_settings
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.runtime import (
    OFF_PATH_FETCH_MAX_WAIT_MS,
    OFF_PATH_FETCH_MIN_BYTES,
    Consumer,
    Service,
    registrar,
)
from stocksync_common.stores import load_stores
from stocksync_common.topics import (
    COMPLIANCE,
    INVENTORY_CHANGED,
    INVENTORY_COMMANDS,
    ORDERS,
    WEBHOOKS_SHOPIFY,
)


@dataclass
class Container:
    redis: Redis
    producer: AIOKafkaProducer
    handler: OrderHandler
    compliance: ComplianceHandler


def build(settings: Settings) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file, frozenset(), settings.environment)  # no secrets
    redis = connect_settings(settings)
    # linger 0: a batch's commands and events are queued back to back and their acks awaited
    # together before the commit; the sender runs only once the loop yields, so the burst
    # still leaves as one request per partition leader, and a linger would only add its wait
    # to the hop (the retry and DLQ sends of all three loops are awaited one by one anyway).
    producer = producer_from(settings, linger_ms=0)
    handler = OrderHandler(
        stores,
        producer,
        RedisOrders(redis, ttl_s=settings.order_state_ttl_s),
        save_attempts=settings.order_save_attempts,
        wms_locations=settings.wms_locations,
    )
    return Container(
        redis, producer, handler, ComplianceHandler(redis, settings.erased_tombstone_ttl_s)
    )


def service(settings: Settings) -> Service[Container]:
    """order-consumer as the runtime runs it."""
    s = settings
    return Service(
        settings=s,
        build=lambda: build(s),
        consumers=[
            # The sale's path to the other stores: the broker answers at the first webhook
            # (the default fetch wait only paces idle polling). A batch is at most 500
            # webhooks: its first record is published only once the whole batch was read,
            # applied and saved (two Redis round trips however many).
            Consumer(
                s.consumer_group,
                (WEBHOOKS_SHOPIFY,),
                lambda c: c.handler.handle_batch,
                max_poll_records=500,
            ),
            # Its own group on inventory.changed.v1: the reservations inventory-adjuster
            # refused. Refusals only correct later diffs of their order, off the sync path:
            # the usual wait.
            Consumer(
                s.oversold_consumer_group,
                (INVENTORY_CHANGED,),
                lambda c: c.handler.handle_inventory_batch,
                name="oversold-consumer",
                # off the sale's path: its changes in batches (#19)
                fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
                fetch_max_wait_ms=OFF_PATH_FETCH_MAX_WAIT_MS,
                # the changes it skips are told apart from two fields, not validated (#19)
                decode=decode_changes,
            ),
            # Its own group on compliance.v1: erase or report what is kept about a customer
            # or shop. Compliance requests are due within days: a long fetch wait keeps the
            # idle group quiet.
            Consumer(
                s.compliance_consumer_group,
                (COMPLIANCE,),
                lambda c: c.compliance.handle_batch,
                name="compliance-consumer",
                fetch_max_wait_ms=500,
                fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
            ),
        ],
        producer=wiring.producer,
        produces=(INVENTORY_COMMANDS, ORDERS),
        # order states, erased shops and compliance reports; webhook:seen erased on
        # shop/redact (compliance.py); the variant -> SKU maps shopify-sync keeps, read only
        redis_keys=RedisKeys(
            writes=("order:*", "erased-shop:*", "compliance:report:*", "webhook:seen:*"),
            reads=("skumap:*",),
            scripts=True,
        ),
        checks=wiring.redis_ready,
        closers=wiring.close_redis,
    )


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
