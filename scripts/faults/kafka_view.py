"""Read-only views of the suite's Kafka: consumer lag and committed offsets of groups, and
DLQ records."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

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
