"""The command handler routes kit commands to the kit script and republishes kits when a
component moves (real Redis, recording producer)."""

import asyncio
import uuid
from collections.abc import Iterable
from types import SimpleNamespace

import pytest
from aiokafka.structs import TopicPartition
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import RedisInventory, state_key
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.consumer import Incoming
from stocksync_common.events import (
    InventoryChanged,
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    OrderLineRef,
    OrderOversold,
    SkuConfig,
    StockChange,
    decode,
)
from stocksync_common.redis_client import cluster_url
from support.record_batches import FakeBatch

pytestmark = [pytest.mark.integration]  # on a Redis Cluster too: kits in phases (ADR 0034)
TP = TopicPartition("inventory.commands.v1", 0)


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []
        # the producer's metadata, as the publisher reads partition counts from it
        self.client = SimpleNamespace(cluster=SimpleNamespace(partitions_for_topic=lambda t: {0}))

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int):
        self.sent.extend((topic, decode(value)) for _, value, _ in batch.records)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def changed(producer: RecordingProducer) -> dict[str, StockChange]:
    return {e.payload.sku: e.payload for _, e in producer.sent if isinstance(e, InventoryChanged)}


def item(sku: str, command: str, qty: int, offset: int, **extra: object) -> Incoming:
    event = InventoryCommandRequested(
        source="t",
        payload=InventoryCommand(
            command=command,  # type: ignore[arg-type]
            idempotency_key=uuid.uuid4().hex,
            sku=sku,
            location="wh-1",
            quantity=qty,
            **extra,  # type: ignore[arg-type]
        ),
    )
    record = SimpleNamespace(
        topic=TP.topic,
        partition=0,
        offset=offset,
        timestamp=0,
        key=sku.encode(),
        value=None,
        headers=[],
    )
    return Incoming(record=record, event=event)  # type: ignore[arg-type]


async def test_kit_reserve_moves_components_and_kits_follow_their_components(redis):
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"A-{run}", f"B-{run}", f"KIT-{run}"
    producer = RecordingProducer()
    store = RedisInventory(redis, f"kh-{run}", idem_ttl_s=600, ledger_max_len=100)
    kits = KitStore(redis, f"kh-{run}", idem_ttl_s=600, ledger_max_len=100)
    handler = CommandHandler(store, producer, kits)  # type: ignore[arg-type]
    cfg = SkuConfig(kit_components={a: 2, b: 1})
    await handler.handle_batch(
        TP,
        [
            item(a, "set_on_hand", 10, 0),
            item(b, "set_on_hand", 3, 1),
            item(kit, "configure", 0, 2, config=cfg),
        ],
    )
    producer.sent.clear()

    await handler.handle_batch(TP, [item(kit, "reserve", 2, 3)])
    changes = {
        e.payload.sku: e.payload for t, e in producer.sent if isinstance(e, InventoryChanged)
    }
    assert changes[a].after.reserved == 4 and changes[b].after.reserved == 2
    assert changes[kit].after.available == 1  # min((10-4)//2, (3-2)//1)

    producer.sent.clear()
    await handler.handle_batch(TP, [item(b, "adjust", 5, 4)])  # a receipt of the scarce part
    changes = {
        e.payload.sku: e.payload for t, e in producer.sent if isinstance(e, InventoryChanged)
    }
    assert changes[kit].after.available == 3  # min(6//2, 6//1)

    producer.sent.clear()
    await handler.handle_batch(TP, [item(kit, "reserve", 4, 5)])
    refused = [e for _, e in producer.sent if isinstance(e, OrderOversold)]
    assert len(refused) == 1 and refused[0].payload.sku == kit
    levels_a = await store.levels(a)
    assert levels_a is not None and levels_a.locations["wh-1"].reserved == 4  # untouched


async def test_a_kit_command_publishes_component_levels_a_rebuild_can_place(redis):
    """Each component's levels record after a kit command carries the position of the
    component's own last command and the kit offsets it includes; the kit's own record
    carries its shops' seen counters, its version and the kit command's position (ADR 0008)."""
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"A-{run}", f"B-{run}", f"KIT-{run}"
    producer = RecordingProducer()
    store = RedisInventory(redis, f"kh-{run}", idem_ttl_s=600, ledger_max_len=100)
    kits = KitStore(redis, f"kh-{run}", idem_ttl_s=600, ledger_max_len=100)
    handler = CommandHandler(store, producer, kits)  # type: ignore[arg-type]
    cfg = SkuConfig(kit_components={a: 2, b: 1})
    await handler.handle_batch(
        TP,
        [
            item(a, "set_on_hand", 10, 0),
            item(b, "set_on_hand", 3, 1),
            item(kit, "configure", 0, 2, config=cfg),
        ],
    )
    producer.sent.clear()
    order = OrderLineRef(shop="s1.myshopify.com", order_id="1", line_id="1")
    await handler.handle_batch(TP, [item(kit, "reserve", 1, 7, order=order)])
    levels = {
        e.payload.sku: e.payload for t, e in producer.sent if isinstance(e, InventoryLevelsUpdated)
    }
    assert set(levels) == {a, b, kit}
    own = levels[kit]
    assert (own.partition, own.offset, own.seen) == (0, 7, {"wh-1": {"s1.myshopify.com": 1}})
    assert own.version == int(await redis.hget(state_key(kit), "version"))
    assert (levels[a].partition, levels[a].offset, levels[a].kit_offsets) == (0, 0, {"0": 7})
    assert (levels[b].partition, levels[b].offset, levels[b].kit_offsets) == (0, 1, {"0": 7})
    assert levels[a].locations["wh-1"].reserved == 2

    producer.sent.clear()  # a refused kit reserve moves nothing but still stamps
    await handler.handle_batch(TP, [item(kit, "reserve", 5, 8)])
    levels = {
        e.payload.sku: e.payload for t, e in producer.sent if isinstance(e, InventoryLevelsUpdated)
    }
    assert levels[b].kit_offsets == {"0": 8} and levels[b].locations["wh-1"].reserved == 1
    assert (levels[kit].offset, levels[kit].version) == (8, own.version)  # no version bump
    # a plain command's levels carry the kit offsets too
    producer.sent.clear()
    await handler.handle_batch(TP, [item(a, "adjust", 1, 9)])
    (plain,) = [e.payload for _, e in producer.sent if isinstance(e, InventoryLevelsUpdated)]
    assert (plain.partition, plain.offset, plain.kit_offsets) == (0, 9, {"0": 8})


class CountingConnection(Connection):
    """Counts what is written to Redis: one per command sent alone or pipeline executed."""

    sent = 0

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


async def test_a_batch_reads_its_kit_routing_and_index_in_one_round_trip(redis_url):
    """Two round trips for a batch of plain commands (the kit lookups, then the apply), not
    three (the kit definitions, the apply, then the kits of what moved). A batch that moves a
    kit's component reads the kit's levels too (the tests above show it republished)."""
    if cluster_url(redis_url) is not None:
        pytest.skip("counts writes through a single-node connection class of its own")
    pool = ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
    run = uuid.uuid4().hex[:8]
    a, b = f"RA-{run}", f"RB-{run}"
    producer = RecordingProducer()
    store = RedisInventory(client, f"rt-{run}", idem_ttl_s=600, ledger_max_len=100)
    kits = KitStore(client, f"rt-{run}", idem_ttl_s=600, ledger_max_len=100)
    handler = CommandHandler(store, producer, kits)  # type: ignore[arg-type]
    try:
        await handler.handle_batch(
            TP, [item(a, "set_on_hand", 10, 0), item(b, "set_on_hand", 10, 1)]
        )
        producer.sent.clear()
        CountingConnection.sent = 0
        await handler.handle_batch(TP, [item(a, "reserve", 1, 2), item(b, "reserve", 2, 3)])
        assert CountingConnection.sent == 2
        assert changed(producer)[a].after.reserved == 1
        assert changed(producer)[b].after.reserved == 2
    finally:
        await client.aclose()
