"""Composition root: clients, stores, channels and workers, and the service as the runtime
runs it (the inventory.changed.v1 consumer and the delivery workers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from redis.asyncio import Redis

from notifier import decoding
from notifier.adapters.alerts_log import AlertLog
from notifier.adapters.channels import Channel, EmailChannel, SlackChannel, WebhookChannel
from notifier.adapters.dead_letters import DeadLetters
from notifier.adapters.digests import Digests
from notifier.adapters.outbox import Outbox
from notifier.adapters.quiet import QuietPeriods
from notifier.adapters.reorders import ReorderPublisher
from notifier.adapters.rules_store import RulesStore, load_rules_file
from notifier.adapters.state import SkuStates, VelocityWindow
from notifier.handlers import AlertHandler
from notifier.settings import Settings
from notifier.workers import ChannelWorker, DeliveryPolicy, DigestWorker
from stocksync_common import wiring
from stocksync_common.breaker import CircuitBreaker
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
from stocksync_common.topics import INVENTORY_CHANGED, ORDERS, REORDERS

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    producer: AIOKafkaProducer
    redis: Redis
    http: httpx.AsyncClient
    rules: RulesStore
    alerts: AlertLog
    handler: AlertHandler
    workers: list[ChannelWorker] = field(default_factory=list)
    digest_worker: DigestWorker | None = None


def build_channels(settings: Settings, http: httpx.AsyncClient) -> list[Channel]:
    console = settings.ops_console_url
    channels: list[Channel] = []
    if settings.alert_webhook_url:
        channels.append(SlackChannel(http, settings.alert_webhook_url.get_secret_value(), console))
    if settings.alert_generic_webhook_url and settings.alert_generic_webhook_secret:
        secret = settings.alert_generic_webhook_secret.get_secret_value()
        channels.append(WebhookChannel(http, settings.alert_generic_webhook_url, secret, console))
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        channels.append(
            EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                recipients=settings.smtp_to,
                console_url=console,
                timeout_s=settings.request_timeout_s,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password,
            )
        )
    return channels


def build(
    settings: Settings,
    *,
    redis: Redis | None = None,
    producer: AIOKafkaProducer | None = None,
    channels: list[Channel] | None = None,
) -> Container:
    redis = redis or connect_settings(settings)
    http = httpx.AsyncClient(timeout=settings.request_timeout_s)
    producer = producer or producer_from(settings)
    channels = build_channels(settings, http) if channels is None else channels
    prefix = settings.notifier_key_prefix
    outboxes = {c.name: Outbox(redis, c.name, prefix) for c in channels}
    alerts = AlertLog(redis, outboxes, prefix)
    rules = RulesStore(redis, prefix)
    handler = AlertHandler(
        rules=rules,
        states=SkuStates(redis, prefix),
        velocity=VelocityWindow(redis, settings.velocity_window_s, prefix),
        alerts=alerts,
        digests=Digests(redis, prefix),
        reorders=ReorderPublisher(producer, settings.publish_timeout_s),
        channels=tuple(c.name for c in channels),  # type: ignore[misc]
        quiet=QuietPeriods(redis, prefix),
    )
    policy = DeliveryPolicy(
        max_attempts=settings.delivery_max_attempts,
        backoff_base_s=settings.delivery_backoff_base_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        lease_s=settings.delivery_lease_s,
        poll_s=settings.delivery_poll_s,
    )
    dead_letters = DeadLetters(producer, settings.consumer_group, settings.publish_timeout_s)
    workers = []
    for channel in channels:
        breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failures, open_s=settings.breaker_reset_s
        )
        worker = ChannelWorker(
            channel, outboxes[channel.name], alerts, dead_letters, breaker, policy
        )
        alerts.wake[channel.name] = worker.wake
        workers.append(worker)
    digest_worker = DigestWorker(Digests(redis, prefix), alerts, settings.digest_poll_s)
    return Container(
        settings,
        producer,
        redis,
        http,
        rules,
        alerts,
        handler,
        workers,
        digest_worker,
    )


async def seed_rules(c: Container) -> None:
    """Load the rules file into Redis if no rules are stored yet (the API owns them after)."""
    path = c.settings.notifier_rules_file
    if not path:
        return
    try:
        rules = load_rules_file(path)
    except (OSError, ValidationError, ValueError) as exc:
        raise RuntimeError(f"invalid rules file {path}: {exc}") from exc
    unknown = rules.unknown_channels(c.handler.channels)
    if unknown:
        raise RuntimeError(f"rules file {path} routes to unconfigured channels: {unknown}")
    if await c.rules.seed(rules):
        log.info("rules seeded from file", extra={"path": path})


def tasks(c: Container) -> list[Task]:
    """The delivery workers (one per channel) and the digest worker."""
    found = [Task(f"outbox-{w.channel.name}", w.run, w.stop) for w in c.workers]
    if c.digest_worker is not None:
        found.append(Task("digests", c.digest_worker.run, c.digest_worker.stop))
    return found


def service(settings: Settings) -> Service[Container]:
    """notifier as the runtime runs it: the rules seeded first, then the consumer, then the
    workers (stopped first, each asked to finish its delivery)."""
    changes = Consumer[Container](
        settings.consumer_group,
        # orders.v1: order lifecycle events that alert (order.line_unmapped; ADR 0022, e)
        (INVENTORY_CHANGED, ORDERS),
        lambda c: c.handler.handle_batch,
        # a fetch's partitions: one round trip per step for all of them (#19)
        handler_many=lambda c: c.handler.handle_many,
        # alerts may follow a quarter of a second later: changes come in batches (#19)
        fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
        fetch_max_wait_ms=OFF_PATH_FETCH_MAX_WAIT_MS,
        # inventory.changed read narrowly: the fields the notifier uses (ADR 0042)
        decode=decoding.decode,
    )
    return Service(
        settings=settings,
        build=lambda: build(settings),
        consumers=[changes],
        on_start=seed_rules,
        tasks=tasks,
        producer=wiring.producer,
        produces=(REORDERS,),
        redis_keys=RedisKeys(writes=(f"{settings.notifier_key_prefix}:*",), scripts=True),
        checks=wiring.redis_ready,
        closers=wiring.close_redis_and_http,
    )


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
