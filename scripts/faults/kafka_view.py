"""Read-only views of the suite's Kafka: consumer lag and committed offsets of groups, DLQ
records, and (for a cluster) partition leaders, replicas and in-sync replicas, and topic
configs."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stocksync_common.kafka import env_security, stop_consumer
from stocksync_common.transport import kafka_options


async def _stop(consumer: AIOKafkaConsumer) -> None:
    await stop_consumer(consumer)


async def _lag(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), request_timeout_ms=5000
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), request_timeout_ms=5000
    )
    await admin.start()
    await consumer.start()
    try:
        out: dict[str, int] = {}
        for group, *_ in await admin.list_consumer_groups():
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            out[group] = sum(
                max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if meta.offset >= 0
            )
        return out
    finally:
        await admin.close()
        await _stop(consumer)


def lag(bootstrap: str) -> dict[str, int]:
    """Per consumer group: records on its committed partitions not yet consumed."""
    return asyncio.run(_lag(bootstrap))


async def _committed(bootstrap: str, groups: list[str]) -> dict[str, dict[str, int]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), request_timeout_ms=5000
    )
    await admin.start()
    try:
        out: dict[str, dict[str, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            out[group] = {
                f"{tp.topic}:{tp.partition}": meta.offset
                for tp, meta in offsets.items()
                if meta.offset >= 0
            }
        return out
    finally:
        await admin.close()


def committed(bootstrap: str, groups: list[str]) -> dict[str, dict[str, int]]:
    """Per group: its committed offset of each partition (``topic:partition``)."""
    return asyncio.run(_committed(bootstrap, groups))


async def _dlq(bootstrap: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), enable_auto_commit=False
    )
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if ".dlq." in t]
        parts = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not parts:
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list[dict[str, Any]] = []
        remaining = {tp for tp in parts if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
                continue
            for tp, msgs in batch.items():
                for msg in msgs:
                    try:
                        doc = orjson.loads(msg.value or b"{}")
                    except orjson.JSONDecodeError:
                        doc = {"raw": (msg.value or b"").decode(errors="replace")}
                    records.append({"topic": tp.topic, "offset": msg.offset, "doc": doc})
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await _stop(consumer)


def dlq_records(bootstrap: str) -> list[dict[str, Any]]:
    """Every record in every ``<topic>.dlq.<group>`` topic, with its topic and offset."""
    return asyncio.run(_dlq(bootstrap))


async def _partitions(bootstrap: str) -> dict[str, list[dict[str, Any]]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), request_timeout_ms=5000
    )
    await admin.start()
    try:
        names = await admin.list_topics()
        described = await admin.describe_topics(names)
        return {
            t["topic"]: sorted(t["partitions"], key=lambda p: p["partition"]) for t in described
        }
    finally:
        await admin.close()


def partitions(bootstrap: str) -> dict[str, list[dict[str, Any]]]:
    """Per topic (internal ones included): each partition's ``leader`` (-1: none),
    ``replicas`` and ``isr`` (in-sync replicas), as the cluster's metadata has them now."""
    return asyncio.run(_partitions(bootstrap))


TOPIC_OVERRIDE = 1  # Kafka's config source DYNAMIC_TOPIC_CONFIG: set on the topic itself


async def _topic_config(bootstrap: str, names: list[str], key: str) -> dict[str, tuple[str, int]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), request_timeout_ms=5000
    )
    await admin.start()
    try:
        wanted = [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names]
        responses = await admin.describe_configs(wanted)
    finally:
        await admin.close()
    found: dict[str, tuple[str, int]] = {}
    for response in responses:
        for _code, _msg, _kind, name, entries in response.resources:
            for entry in entries:
                if entry[0] == key:
                    found[name] = (entry[1], entry[3])
    return found


def topic_config(bootstrap: str, names: list[str], key: str) -> dict[str, tuple[str, int]]:
    """Each topic's value of config ``key`` and where it comes from (:data:`TOPIC_OVERRIDE`:
    set on the topic itself, else a broker or default value)."""
    return asyncio.run(_topic_config(bootstrap, names, key))
