"""The topic catalog and ``stocksync-topics``, the command that creates the topics.

One description of every topic and its config: :data:`CATALOG_TOPICS` (the shared topics)
and :func:`group_topics` (the retry and DLQ topics of the consumer groups the installed
services register, entry point ``stocksync.groups``); :func:`all_topics` is both.
Everything that creates topics goes through :func:`ensure_topics`, which gives a topic the
config of this description (:func:`spec_of`): the topics command, a consumer loop creating
its group's missing retry and DLQ topics at start-up, and a service's own extra topics. The
topics job of compose and Kubernetes runs in one service's image, which cannot see the other
services' entry points: it reads the same description from the file
``deploy/k8s/generate_topics.py`` writes from :func:`all_topics` (``STOCKSYNC_TOPICS_FILE``;
a test fails when the file is stale).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stocksync_common.client_start import start_whole
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.settings import CommonSettings, load
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


# Topics that hold records as they arrived (dead letters, parked webhooks) may carry
# personal data the receiver strips from the main topics: bounded, whatever the broker's
# default (docs/security.md).
RAW_BODY_RETENTION_MS = 14 * 24 * 3600 * 1000

# Records up to this size (a webhook body of Shopify's largest product, 2,048 variants, is
# about 1.2-1.5 MB; a dead letter holds its value in base64): the topics that may carry such a
# record take it (``max.message.bytes``, Kafka's default is 1 MiB), and so do producers
# (``stocksync_common.kafka``). Consumers need nothing: a broker always returns a whole batch,
# however large. docs/decisions/0028.
MAX_RECORD_BYTES = 8 * 1024 * 1024
LARGE_RECORDS = {"max.message.bytes": str(MAX_RECORD_BYTES + 64 * 1024)}  # + batch overhead
WEEK_MS = 7 * 24 * 3600 * 1000

CATALOG_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(WEBHOOKS_SHOPIFY, {"retention.ms": str(WEEK_MS), **LARGE_RECORDS}),
    TopicSpec(WEBHOOKS_WMS, {"retention.ms": str(WEEK_MS), **LARGE_RECORDS}),
    TopicSpec(INVENTORY_COMMANDS, {"retention.ms": str(14 * 24 * 3600 * 1000)}),
    TopicSpec(INVENTORY_CHANGED),
    TopicSpec(
        INVENTORY_LEVELS,
        {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
    ),
    TopicSpec(ORDERS),
    TopicSpec(CATALOG, dict(LARGE_RECORDS)),  # products webhooks are handed on whole
    TopicSpec(REORDERS),
    # Raw bodies of topics nobody routes (they may carry personal data): two weeks to look.
    TopicSpec(WEBHOOKS_PARKED, {"retention.ms": str(RAW_BODY_RETENTION_MS), **LARGE_RECORDS}),
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
    # The Redis keys it touches (its own and libs/common's for it); None: no Redis. Its
    # Redis ACL user is made from them (stocksync_common.redis_keys).
    redis: RedisKeys | None = None

    @property
    def uses_kafka(self) -> bool:
        return bool(self.consumers or self.producers or self.produces or self.reads)

    def dlq_topics(self) -> tuple[str, ...]:
        """The dead-letter topic of each topic each of its groups dead-letters."""
        groups = {**self.consumers, **self.producers}
        return tuple(dlq_topic(t, g) for g, topics in groups.items() for t in topics)


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
RETRY_CONFIG = {"retention.ms": str(WEEK_MS), **LARGE_RECORDS}
# A DLQ is replayed or purged within hours (its alert fires on the first record); two weeks
# bound what it keeps of records as they arrived, personal data included.
DLQ_CONFIG: dict[str, str] = {"retention.ms": str(RAW_BODY_RETENTION_MS), **LARGE_RECORDS}


def group_topics(groups: Registered) -> list[TopicSpec]:
    """The retry and DLQ topics of ``groups`` with their configs: a retry and a DLQ topic per
    topic a consumer group reads, a DLQ topic per topic a producer group dead-letters."""
    specs: list[TopicSpec] = []
    for group, topics in groups.consumers.items():
        specs.extend(TopicSpec(retry_topic(t, group), dict(RETRY_CONFIG)) for t in topics)
        specs.extend(TopicSpec(dlq_topic(t, group), dict(DLQ_CONFIG)) for t in topics)
    for group, topics in groups.producers.items():
        specs.extend(TopicSpec(dlq_topic(t, group), dict(DLQ_CONFIG)) for t in topics)
    return specs


def all_topics() -> list[TopicSpec]:
    """Every topic: the catalog, then the retry and DLQ topics of every registered group."""
    return [*CATALOG_TOPICS, *group_topics(registered())]


def spec_of(name: str) -> TopicSpec:
    """The description of one topic by its name: a catalog topic's own, or a retry or DLQ
    topic's (of any group, a test's or a renamed one too); an unknown topic has no config."""
    for spec in CATALOG_TOPICS:
        if spec.name == name:
            return spec
    if ".retry." in name:
        return TopicSpec(name, dict(RETRY_CONFIG))
    return TopicSpec(name, dict(DLQ_CONFIG))


TOPICS_FILE_FORMAT = "stocksync-topics/1"


def dump_topics(specs: Iterable[TopicSpec]) -> str:
    """The description as the topics job reads it (``STOCKSYNC_TOPICS_FILE``)."""
    doc = {
        "format": TOPICS_FILE_FORMAT,
        "topics": [{"name": s.name, "config": dict(s.config)} for s in specs],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=100)


def load_topics(path: str | Path) -> list[TopicSpec]:
    """The topics of a file :func:`dump_topics` wrote; ``ValueError`` naming the file and
    what is wrong with it otherwise."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"topics file {path}: cannot read it ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != TOPICS_FILE_FORMAT:
        raise ValueError(f"topics file {path}: not a {TOPICS_FILE_FORMAT} file")
    specs = []
    for i, entry in enumerate(doc.get("topics") or []):
        name = entry.get("name") if isinstance(entry, dict) else None
        config = entry.get("config", {}) if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or not isinstance(config, dict):
            raise ValueError(f"topics file {path}: entry {i} needs a name and a config map")
        specs.append(TopicSpec(name, {str(k): str(v) for k, v in config.items()}))
    if not specs:
        raise ValueError(f"topics file {path}: lists no topics")
    return specs


async def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    replication: int | None,
    *,
    min_isr: int | None = None,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create each named topic (with its partition count and ``configs`` entry) that does not
    exist yet; returns the names created. The one way StockSync creates topics: the broker
    never creates them by itself. ``configs`` None: each topic's config from the description
    (:func:`spec_of`). ``replication`` None: as many replicas as the cluster has brokers, up
    to 3. ``min_isr``: ``min.insync.replicas`` set on each topic (None: the broker's
    default); more than the replicas is refused (``ValueError``), since no acks=all write
    could succeed."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=30000, **kafka_options(security)
    )
    try:
        await start_whole(admin.start())  # a failed start's client is closed too
        existing = set(await admin.list_topics())
        missing = [name for name in partitions if name not in existing]
        if not missing:
            return []
        if replication is None:
            brokers = (await admin.describe_cluster()).get("brokers") or []
            replication = min(3, len(brokers) or 1)
        if min_isr is not None and min_isr > replication:
            raise ValueError(
                f"min.insync.replicas {min_isr} exceeds the {replication} replicas of "
                f"{missing}: no acks=all write could succeed"
            )
        if configs is None:
            configs = {name: spec_of(name).config for name in missing}
        extra = {"min.insync.replicas": str(min_isr)} if min_isr is not None else {}
        new = [
            NewTopic(
                name,
                partitions[name],
                replication,
                topic_configs={**extra, **configs.get(name, {})},
            )
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
    replication: int | None,
    *,
    min_isr: int | None = None,
    specs: list[TopicSpec] | None = None,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create every topic of ``specs`` (None: :func:`all_topics`) that does not exist yet;
    returns the names created."""
    specs = all_topics() if specs is None else specs
    return await ensure_topics(
        bootstrap,
        {s.name: partitions for s in specs},
        replication,
        min_isr=min_isr,
        configs={s.name: s.config for s in specs},
        security=security,
    )


class TopicsSettings(CommonSettings):
    """The topics command talks to Kafka only."""

    uses_redis: ClassVar[bool] = False


def main(argv: list[str] | None = None) -> int:
    """``stocksync-topics create``: create every topic (idempotent); ``list`` names them.
    The topics are those of ``STOCKSYNC_TOPICS_FILE`` when set (the topics job), else the
    installed services' (a checkout with the whole workspace)."""
    parser = argparse.ArgumentParser(prog="stocksync-topics")
    parser.add_argument("action", choices=["create", "list"])
    parser.add_argument(
        "--min-isr", type=int, default=None, help="default: STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS"
    )
    args = parser.parse_args(argv)
    settings = load(TopicsSettings)
    try:
        specs = load_topics(settings.topics_file) if settings.topics_file else all_topics()
    except ValueError as exc:
        sys.stderr.write(f"stocksync-topics: {exc}\n")
        return 2
    if args.action == "list":
        for spec in specs:
            sys.stdout.write(f"{spec.name}\n")
        return 0
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            settings.topic_partitions,
            settings.topic_replication_factor,
            min_isr=args.min_isr or settings.topic_min_insync_replicas,
            specs=specs,
            security=settings.kafka_security,
        )
    )
    sys.stdout.write(f"created {len(created)} topics\n")
    for name in created:
        sys.stdout.write(f"  {name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
