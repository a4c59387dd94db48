"""The topic catalog and ``stocksync-topics``, the command that creates the topics."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import ClassVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stocksync_common.settings import CommonSettings
from stocksync_common.transport import KafkaSecurity, kafka_options

log = logging.getLogger(__name__)

WEBHOOKS_SHOPIFY = "webhooks.shopify.v1"
WEBHOOKS_WMS = "webhooks.wms.v1"
INVENTORY_COMMANDS = "inventory.commands.v1"
INVENTORY_CHANGED = "inventory.changed.v1"
INVENTORY_LEVELS = "inventory.levels.v1"
ORDERS = "orders.v1"
CATALOG = "catalog.v1"
REORDERS = "reorders.v1"
WEBHOOKS_PARKED = "webhooks.parked.v1"
COMPLIANCE = "compliance.v1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: dict[str, str] = field(default_factory=dict)


CATALOG_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(WEBHOOKS_SHOPIFY, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    TopicSpec(WEBHOOKS_WMS, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    TopicSpec(INVENTORY_COMMANDS, {"retention.ms": str(14 * 24 * 3600 * 1000)}),
    TopicSpec(INVENTORY_CHANGED),
    TopicSpec(
        INVENTORY_LEVELS,
        {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
    ),
    TopicSpec(ORDERS),
    TopicSpec(CATALOG),
    TopicSpec(REORDERS),
    TopicSpec(WEBHOOKS_PARKED, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    # Shopify allows 30 days to act on a compliance request; keep them that long.
    TopicSpec(COMPLIANCE, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
)

# Each service registers its own groups under this entry point (in its pyproject.toml): a
# function returning its :class:`Registered`. libs/common names no group itself.
GROUPS_ENTRY_POINT = "stocksync.groups"


@dataclass(frozen=True)
class Registered:
    """The groups a service registers: consumer groups with the topics each reads (each gets
    a retry and a DLQ topic per topic), and groups that dead-letter what they could not
    publish without consuming it (a DLQ topic, no retry topic). ``produces`` and ``reads``
    (topics published to, and read without a group) complete what the service touches: the
    deploy files grant each service's Kafka user exactly that (deploy/k8s/generate_topics.py)."""

    consumers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    producers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    produces: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


@functools.cache
def registered_services() -> dict[str, Registered]:
    """What each installed service registers, by service (the entry point's name)."""
    points = sorted(entry_points(group=GROUPS_ENTRY_POINT), key=lambda p: p.name)
    return {point.name: point.load()() for point in points}


@functools.cache
def registered() -> Registered:
    """Every group the installed services register (for the topics command, the DLQ command
    and the deploy files; a running service passes its own groups instead)."""
    consumers: dict[str, tuple[str, ...]] = {}
    producers: dict[str, tuple[str, ...]] = {}
    for found in registered_services().values():
        consumers.update(found.consumers)
        producers.update(found.producers)
    return Registered(consumers, producers)


def group_sources(group: str) -> tuple[str, ...]:
    """The topics whose failures ``group`` dead-letters (empty for an unknown group)."""
    groups = registered()
    return groups.consumers.get(group) or groups.producers.get(group) or ()


def dlq_topic(topic: str, group: str) -> str:
    return f"{topic}.dlq.{group}"


def retry_topic(topic: str, group: str) -> str:
    return f"{topic}.retry.{group}"


# A retry record is due within seconds; a week covers any outage the DLQ would not.
RETRY_CONFIG = {"retention.ms": str(7 * 24 * 3600 * 1000)}


def all_topics() -> list[TopicSpec]:
    specs = list(CATALOG_TOPICS)
    groups = registered()
    for group, topics in groups.consumers.items():
        specs.extend(TopicSpec(retry_topic(t, group), RETRY_CONFIG) for t in topics)
        specs.extend(TopicSpec(dlq_topic(t, group)) for t in topics)
    for group, topics in groups.producers.items():
        specs.extend(TopicSpec(dlq_topic(t, group)) for t in topics)
    return specs


async def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    replication: int | None,
    *,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create each named topic (with its partition count and ``configs`` entry) that does not
    exist yet; returns the names created. The one way StockSync creates topics: the broker
    never creates them by itself. ``replication`` None: as many replicas as the cluster has
    brokers, up to 3."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=30000, **kafka_options(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in partitions if name not in existing]
        if not missing:
            return []
        if replication is None:
            brokers = (await admin.describe_cluster()).get("brokers") or []
            replication = min(3, len(brokers) or 1)
        configs = configs or {}
        new = [
            NewTopic(name, partitions[name], replication, topic_configs=dict(configs.get(name, {})))
            for name in missing
        ]
        try:
            await admin.create_topics(new, timeout_ms=30000)
        except TopicAlreadyExistsError:
            log.info("some topics were created concurrently", extra={"topics": missing})
        return missing
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str,
    partitions: int,
    replication: int,
    *,
    min_isr: int | None = None,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create every catalog topic that does not exist yet; returns the names created."""
    specs = all_topics()
    extra = {"min.insync.replicas": str(min_isr)} if min_isr else {}
    return await ensure_topics(
        bootstrap,
        {s.name: partitions for s in specs},
        replication,
        configs={s.name: {**extra, **s.config} for s in specs},
        security=security,
    )


class TopicsSettings(CommonSettings):
    """The topics command talks to Kafka only."""

    uses_redis: ClassVar[bool] = False


def main(argv: list[str] | None = None) -> int:
    """``stocksync-topics create``: create the catalog topics (idempotent)."""
    parser = argparse.ArgumentParser(prog="stocksync-topics")
    parser.add_argument("action", choices=["create", "list"])
    parser.add_argument("--min-isr", type=int, default=None)
    args = parser.parse_args(argv)
    settings = TopicsSettings()
    if args.action == "list":
        for spec in all_topics():
            sys.stdout.write(f"{spec.name}\n")
        return 0
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            settings.topic_partitions,
            settings.topic_replication_factor,
            min_isr=args.min_isr,
            security=settings.kafka_security,
        )
    )
    sys.stdout.write(f"created {len(created)} topics\n")
    for name in created:
        sys.stdout.write(f"  {name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
