"""The changes of one fetch are recorded for every store in one call to the state (one
pipelined round trip in Redis, ``RedisSyncState.record_many``), not a call per store; a
store that kept something is woken, one that kept nothing is not (#19 item 3)."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.structs import TopicPartition
from unit.shopify_sync.fakes import MemorySyncState

from shopify_sync.domain.quantities import ItemKey, Known, Pending
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.lanes import Lanes
from stocksync_common.events import InventoryChanged, Levels, StockChange
from stocksync_common.stores import Store, StoresConfig
from support.records import incoming

TOPIC = "inventory.changed.v1"
SHOPS = [f"s{i}.myshopify.com" for i in range(3)]


class CountingState(MemorySyncState):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def record(self, shop: str, entries: Mapping[ItemKey, Pending]) -> int:
        self.calls.append("record")
        return await super().record(shop, entries)

    async def record_many(self, entries: Mapping[str, Mapping[ItemKey, Pending]]) -> dict[str, int]:
        self.calls.append("record_many")
        return {shop: await MemorySyncState.record(self, shop, m) for shop, m in entries.items()}


class SeenLanes(Lanes):
    def __init__(self) -> None:
        super().__init__()
        self.woken: list[str] = []

    def wake(self, shop: str) -> None:
        self.woken.append(shop)


def _changed(sku: str, version: int, available: int) -> InventoryChanged:
    change = StockChange(
        sku=sku, location="wh-1", command="adjust", idempotency_key=f"{sku}:{version}",
        version=version, before=Levels(), after=Levels(available=available),
        sku_available_before=0, sku_available_after=available,
    )  # fmt: skip
    return InventoryChanged(source="t", payload=change)


def _stores() -> StoresConfig:
    return StoresConfig(
        stores=[
            Store.model_validate({
                "shop": shop, "access_token": "t", "webhook_secret": "s",
                "locations": {"wh-1": "L1"},
            })
            for shop in SHOPS
        ]
    )  # fmt: skip


async def test_one_fetch_is_one_call_to_the_state_for_every_store() -> None:
    state, lanes = CountingState(), SeenLanes()
    # the first store applied version 5 of A already: nothing of this fetch is kept for it
    state.known_[SHOPS[0]] = {("A", "wh-1"): Known(applied=5)}
    items = incoming(TOPIC, [_changed("A", 3, 7), _changed("A", 4, 6)])
    await ChangeRecorder(_stores(), state, lanes).handle_many([(TopicPartition(TOPIC, 0), items)])
    assert state.calls == ["record_many"]
    assert sorted(lanes.woken) == SHOPS[1:]
    for shop in SHOPS[1:]:
        assert state.pending_[shop] == {("A", "wh-1"): Pending(4, 6, 6, False, None, None, None)}
    assert SHOPS[0] not in state.pending_
