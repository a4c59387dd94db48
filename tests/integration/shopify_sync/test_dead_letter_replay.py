"""A change the store rejects is dead-lettered by shopify-sync itself; once the operator
fixes the cause, replaying it through the DLQ API records it as pending again and the lane
pushes it. A stale replay never overrides a newer change (real Kafka, Redis, simulator)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from shopify_sync.own_events import SyncChangeRejected, decode
from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.redis_client import connect
from stocksync_common.topics import dlq_topic, retry_topic
from support.poll import await_for

from .conftest import SyncFactory, change

pytestmark = pytest.mark.integration


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    meta = offsets.get(tp)
    return meta.offset if meta is not None else -1


async def test_rejected_change_is_replayed_into_pending_and_pushed(
    sync_stack: SyncFactory, kafka_bootstrap: str, redis_url: str
) -> None:
    async with sync_stack(["standard"]) as s:
        shop, group = s.shops[0], s.settings.consumer_group
        topic = s.settings.changes_topic
        await s.seed(shop, {"KEEP": 0})
        r = await s.sim.post(f"/_sim/stores/{shop}/products", json=[{"sku": "UNSTOCKED"}])
        assert r.status_code == 201, r.text  # listed, but not stocked at the mapped location
        await s.publish_changes([change("UNSTOCKED", 1, 5), change("KEEP", 1, 3)])
        await s.converged(shop, {"KEEP": 3})

        redis = connect(redis_url)
        admin = DlqAdmin(kafka_bootstrap, redis, {group: [topic]})
        dlq = dlq_topic(topic, group)
        try:

            async def one_dead_letter() -> Any:
                recs = await admin.records(dlq)
                return recs if len(recs) == 1 else None

            [rec] = await await_for("the rejected change in the DLQ", one_dead_letter, 60)
            assert rec.reason == "INVALID_LOCATION" and rec.body["key"] == "UNSTOCKED"
            event = decode(rec.original_value())
            assert isinstance(event, SyncChangeRejected)
            assert (event.payload.shop, event.payload.version, event.payload.quantity) == (
                shop, 1, 5,
            )  # fmt: skip
            assert await s.container.state.pending(shop) == {}
            assert (await s.inventory(shop)).get("UNSTOCKED") is None

            # The operator stocks the item at the location, then replays the dead letter.
            r = await s.sim.post(
                f"/_sim/stores/{shop}/products",
                json=[{"sku": "UNSTOCKED", "quantities": {"gid://shopify/Location/1": 0}}],
            )
            assert r.status_code == 201, r.text
            assert await admin.replay([rec], "it") == [rec.id]
            assert await admin.replay([rec], "it") == []  # claimed once: sent once
            await s.converged(shop, {"UNSTOCKED": 5})

            # A newer change wins; a late duplicate of the old replay changes nothing.
            await s.publish_changes([change("UNSTOCKED", 2, 9)])
            await s.converged(shop, {"UNSTOCKED": 9})
            sent = await s.producer.send_and_wait(
                retry_topic(topic, group), rec.original_value(), key=b"UNSTOCKED"
            )
            tp, offset = TopicPartition(sent.topic, sent.partition), int(sent.offset)

            async def consumed() -> bool:
                return await _committed(kafka_bootstrap, group, tp) > offset

            await await_for("the duplicate replay consumed", consumed, 60)
            assert await s.container.state.pending(shop) == {}
            assert (await s.inventory(shop)).get("UNSTOCKED") == 9
            assert len(await admin.records(dlq, status="all")) == 1  # nothing dead-lettered again
        finally:
            await admin.close()
            await redis.aclose()
