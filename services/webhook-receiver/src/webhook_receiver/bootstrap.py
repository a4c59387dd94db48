"""Composition root for webhook-receiver: real clients here, fakes in tests; and the service
as the runtime runs it (a producer, no consumer)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaProducer

from stocksync_common import wiring
from stocksync_common.dlq.redaction import MemoryRedactions, Redactions, RedisRedactions
from stocksync_common.kafka import producer_from
from stocksync_common.redis_client import connect_bounded
from stocksync_common.redis_keys import REDACTIONS_KEY, RedisKeys
from stocksync_common.runtime import Closer, Service, Task, registrar
from stocksync_common.service import kafka_check, redis_check
from stocksync_common.stores import WEBHOOK_SECRET, Store, load_stores
from stocksync_common.topics import COMPLIANCE, WEBHOOKS_PARKED, WEBHOOKS_SHOPIFY, WEBHOOKS_WMS
from webhook_receiver.adapters.ledger import RedisLedger
from webhook_receiver.adapters.parked import MemoryParked, ParkedNotes, RedisParked
from webhook_receiver.intake import Intake, Producer
from webhook_receiver.settings import Settings

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
STOP_TIMEOUT_S = 10.0


class ProducerClient(Producer, Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class Container:
    settings: Settings
    stores: dict[str, Store]  # by shop domain
    producer: ProducerClient
    intake: Intake
    checks: dict[str, Check] = field(default_factory=dict)
    # Closed last (after the producer stopped and the in-doubt records settled).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Notes of the deliveries parked on webhooks.parked.v1, for the admin API.
    parked: ParkedNotes = field(default_factory=MemoryParked)
    # What customers/redact and shop/redact erased, for every reader of dead letters.
    redactions: Redactions = field(default_factory=MemoryRedactions)
    # Each shop's webhook secrets (one, or two during a rotation), encoded once at start.
    shop_secrets: dict[str, list[bytes]] = field(init=False)
    _wms_secrets: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.shop_secrets = {shop: s.webhook_secrets() for shop, s in self.stores.items()}
        self._wms_secrets = [self.settings.wms_webhook_secret.get_secret_value().encode()]
        if self.settings.wms_webhook_secret_previous:
            previous = self.settings.wms_webhook_secret_previous.get_secret_value()
            self._wms_secrets.append(previous.encode())

    def store(self, shop: str) -> Store | None:
        return self.stores.get(shop)

    def wms_secrets(self) -> list[bytes]:
        return self._wms_secrets


def build(settings: Settings) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = {
        s.shop: s
        for s in load_stores(
            settings.stores_file, frozenset({WEBHOOK_SECRET}), settings.environment
        ).stores
    }
    producer: AIOKafkaProducer = producer_from(settings, linger_ms=0)
    # A bounded pool that makes a burst wait for a connection (up to redis_timeout_s) rather
    # than fail (redis-py's default pool raises beyond 100) or open hundreds at once.
    redis = connect_bounded(
        settings.redis_url,
        ca_file=settings.redis_ca_file,
        max_connections=settings.redis_max_connections,
        timeout_s=settings.redis_timeout_s,
    )
    ledger = RedisLedger(redis, settings.dedupe_ttl_s, settings.claim_ttl_s)
    intake = Intake(producer, ledger, settings.publish_timeout_s, settings.claim_ttl_s)
    checks = {"kafka": kafka_check(settings.kafka_bootstrap_servers), "redis": redis_check(redis)}
    return Container(
        settings, stores, producer, intake, checks, [redis.aclose], parked=RedisParked(redis),
        redactions=RedisRedactions(redis),
    )  # fmt: skip


def service(
    settings: Settings, build_container: Callable[[Settings], Container] = build
) -> Service[Container]:
    """webhook-receiver as the runtime runs it: the producer (its stop bounded: it flushes,
    and a broker may be gone for good), the claims keeper, then the in-doubt records settled
    and the clients closed. ``build_container`` is a test seam."""

    def closers(c: Container) -> list[Closer]:
        return [*c.closers, lambda: c.intake.settle_all(STOP_TIMEOUT_S)]

    return Service(
        settings=settings,
        build=lambda: build_container(settings),
        producer=wiring.producer,
        producer_stop_timeout_s=STOP_TIMEOUT_S,
        checks=lambda c: c.checks,
        closers=closers,
        tasks=lambda c: [Task("keep-claims", c.intake.keep_claims, supervised=False)],
        # Its own dead letters (bodies it could not publish): listed and purged, never consumed.
        producer_dlq_groups={"webhook-receiver": (WEBHOOKS_SHOPIFY, WEBHOOKS_WMS)},
        produces=(WEBHOOKS_SHOPIFY, WEBHOOKS_WMS, WEBHOOKS_PARKED, COMPLIANCE),
        # the delivery ledger and rate counters (adapters/ledger.py), parked notes (parked.py)
        redis_keys=RedisKeys(
            writes=("webhook:seen:*", "webhook:rate:*", "webhook:parked:*", REDACTIONS_KEY),
            scripts=True,
        ),
        dlq_auto_replay=False,
        dlq_api=settings.dlq_api,
    )


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
