"""Fresh consumer groups that start at the end of shared topics.

Integration tests give each run its own consumer groups, but some read the standard topics
(``orders.v1``, ...) that earlier suites on the same broker filled: a new group reading from
the earliest offset first works through all of that. Committing the current end of those
topics for the new groups makes them see only what the test publishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from stocksync_common.kafka import stop_consumer


async def start_at_end(bootstrap: str, groups: Sequence[str], topics: Sequence[str]) -> None:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        cluster = await probe._client.fetch_all_metadata()  # noqa: SLF001 - fresh, every topic
        tps = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
        probe.assign(tps)
        ends = await probe.end_offsets(tps) if tps else {}
    finally:
        await stop_consumer(probe)

    async def move(group: str) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(list(ends))
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()

    if ends:
        await asyncio.gather(*(move(g) for g in groups))
