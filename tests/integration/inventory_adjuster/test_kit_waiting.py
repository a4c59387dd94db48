"""Refused kit lines wait and are reserved when their components' stock returns (ADR 0037),
through the command handler on the real Redis: a kit reserve of an order line refused for
stock waits on the kit's list; a component's receipt that lets it through reserves it, all
or nothing, in order of arrival, once (a redelivered batch serves nothing more), with a
``rereserved`` change of the kit naming the refused reserve; a line waiting on a component
since before the kit line is never jumped. Each test runs with kit.lua (one Redis only) and
in one-slot phases (a Redis Cluster's path, ADR 0034; on one Redis too)."""

import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from integration.inventory_adjuster.test_kit_handler import TP, RecordingProducer
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import RedisInventory, waiting_key
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.consumer import Incoming
from stocksync_common.events import (
    InventoryChanged,
    InventoryCommand,
    InventoryCommandRequested,
    OrderLineRef,
    OrderOversold,
    SkuConfig,
)
from support.infra import REDIS_CLUSTER

pytestmark = [pytest.mark.integration]
SHOP = "kw.myshopify.com"


@dataclass
class Rig:
    redis: Redis
    store: RedisInventory
    handler: CommandHandler
    producer: RecordingProducer
    a: str
    b: str
    kit: str
    offset: int = 0

    shop: str = SHOP

    def item(
        self,
        sku: str,
        command: str,
        qty: int,
        line: str | None = None,
        *,
        location: str = "wh-1",
        key: str | None = None,
        **extra: object,
    ) -> Incoming:
        """A command as the consumer loop hands it over (``key``: its idempotency key, by
        default one per command)."""
        self.offset += 1
        order = OrderLineRef(shop=self.shop, order_id=f"o-{line}", line_id=line) if line else None
        event = InventoryCommandRequested(
            source="t",
            payload=InventoryCommand(
                command=command,  # type: ignore[arg-type]
                idempotency_key=key or f"{command}:{line or uuid.uuid4().hex}:{self.offset}",
                sku=sku,
                location=location,
                quantity=qty,
                order=order,
                **extra,  # type: ignore[arg-type]
            ),
        )
        record = SimpleNamespace(topic=TP.topic, partition=0, offset=self.offset, timestamp=0,
                                 key=sku.encode(), value=None, headers=[])  # fmt: skip
        return Incoming(record=record, event=event)  # type: ignore[arg-type]

    async def run(self, *items: Incoming) -> list[object]:
        self.producer.sent.clear()
        await self.handler.handle_batch(TP, list(items))
        return [e for _, e in self.producer.sent]

    async def reserved(self, sku: str) -> int:
        levels = await self.store.levels(sku)
        assert levels is not None
        return levels.locations["wh-1"].reserved


@pytest.fixture(params=[False, True], ids=["one-script", "phased"])
async def rig(redis: Redis, request: pytest.FixtureRequest) -> Rig:
    if REDIS_CLUSTER and not request.param:
        pytest.skip("kit.lua spans hash slots: one Redis only (ADR 0034)")
    run = uuid.uuid4().hex[:8]
    producer = RecordingProducer()
    store = RedisInventory(redis, f"kw-{run}", idem_ttl_s=600, ledger_max_len=100)
    kits = KitStore(redis, f"kw-{run}", idem_ttl_s=600, ledger_max_len=100, phased=request.param)
    handler = CommandHandler(store, producer, kits)  # type: ignore[arg-type]
    r = Rig(redis, store, handler, producer, f"A-{run}", f"B-{run}", f"KIT-{run}")
    cfg = SkuConfig(kit_components={r.a: 2, r.b: 1})
    await r.run(r.item(r.a, "set_on_hand", 4), r.item(r.b, "set_on_hand", 1),
                r.item(r.kit, "configure", 0, config=cfg))  # fmt: skip
    return r


def key(incoming: Incoming) -> str:
    assert isinstance(incoming.event, InventoryCommandRequested)
    return incoming.event.payload.idempotency_key


def rereserved(events: list[object]) -> list[tuple[str, str | None, int]]:
    """(refused key, order line, kits held) of each kit line served."""
    return [
        (e.payload.idempotency_key, e.payload.order.line_id if e.payload.order else None,
         e.payload.after.reserved - e.payload.before.reserved)
        for e in events if isinstance(e, InventoryChanged) and e.payload.rereserved
    ]  # fmt: skip


async def test_a_refused_kit_line_waits_and_is_reserved_all_or_nothing_in_order(rig: Rig) -> None:
    r = rig
    await r.run(r.item(r.kit, "reserve", 1, line="x"))  # A 2 of 4, B 1 of 1
    y, z = r.item(r.kit, "reserve", 1, line="y"), r.item(r.kit, "reserve", 1, line="z")
    events = await r.run(y, z)
    refused = [e.payload for e in events if isinstance(e, OrderOversold)]
    assert [(o.order.line_id if o.order else None, o.waiting) for o in refused] == [
        ("y", True), ("z", True)]  # fmt: skip
    assert await r.redis.llen(waiting_key(r.kit)) == 2

    # A alone comes back: the kit still lacks B, nothing is held (all or nothing)
    assert rereserved(await r.run(r.item(r.a, "adjust", 2))) == []
    assert (await r.reserved(r.a), await r.reserved(r.b)) == (2, 1)

    # one B: y (first) is reserved, z waits behind it
    receipt = r.item(r.b, "adjust", 1)
    events = await r.run(receipt)
    assert rereserved(events) == [(key(y), "y", 1)]
    assert (await r.reserved(r.a), await r.reserved(r.b)) == (4, 2)
    kit_now = [e.payload for e in events
               if isinstance(e, InventoryChanged) and e.payload.sku == r.kit]  # fmt: skip
    assert kit_now and all(c.after.available == 0 for c in kit_now)
    assert await r.redis.llen(waiting_key(r.kit)) == 1

    # the same batch again (a redelivery): nothing more is reserved
    assert rereserved(await r.run(receipt)) == []
    assert (await r.reserved(r.a), await r.reserved(r.b)) == (4, 2)

    # another B: z is reserved; the list is empty
    events = await r.run(r.item(r.b, "adjust", 1))
    assert rereserved(events) == [(key(z), "z", 1)]
    assert (await r.reserved(r.a), await r.reserved(r.b)) == (6, 3)
    assert await r.redis.llen(waiting_key(r.kit)) == 0


async def test_a_line_waiting_on_a_component_since_before_is_not_jumped(rig: Rig) -> None:
    r = rig
    await r.run(r.item(r.kit, "reserve", 1, line="x"))  # B 1 of 1 held
    await r.run(r.item(r.b, "reserve", 2, line="p"))  # a plain line of B: waits on B
    await r.run(r.item(r.kit, "reserve", 1, line="k"))  # the kit line: waits after it
    # one B: the kit line would fit, the plain line (2) not; the earlier one is not jumped
    assert rereserved(await r.run(r.item(r.b, "adjust", 1))) == []
    assert await r.reserved(r.b) == 1
    # another: the plain line is served (apply.lua), the kit line still waits
    events = await r.run(r.item(r.b, "adjust", 1))
    assert [e.payload.order.line_id for e in events if isinstance(e, InventoryChanged)
            and e.payload.rereserved and e.payload.order] == ["p"]  # fmt: skip
    assert await r.reserved(r.b) == 3
    # one more: now the kit line
    events = await r.run(r.item(r.b, "adjust", 1))
    assert [line for _, line, _ in rereserved(events)] == ["k"]
    assert (await r.reserved(r.a), await r.reserved(r.b)) == (4, 4)
