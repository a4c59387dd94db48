"""Consumer handler: record inventory changes as pending per store.

Recording is all the inventory consumer does before its offsets are committed: the change
is then durable in ``sync:pending:{<shop>}`` and each shop's lane pushes it on its own
time, so an open circuit or a slow store never blocks the partition nor the other stores.
A replayed dead letter of this service (``sync.change.rejected``) is recorded the same way,
for its one shop only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.structs import TopicPartition

from shopify_sync.adapters.sync_trace import SYNC_CLOCK
from shopify_sync.domain.change_facts import ChangeFacts
from shopify_sync.domain.quantities import ItemKey, Pending, pending_for_store
from shopify_sync.lanes import Lanes
from shopify_sync.narrow_changes import NarrowChanged
from shopify_sync.own_events import RejectedChange, SyncChangeRejected
from shopify_sync.ports import SyncState
from stocksync_common.consumer import Incoming, Parts, handling
from stocksync_common.events import InventoryChanged
from stocksync_common.stores import Store, StoresConfig


@dataclass
class ChangeRecorder:
    stores: StoresConfig
    state: SyncState
    lanes: Lanes

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        await self.handle_many([(tp, items)])

    async def handle_many(self, parts: Parts) -> None:
        """The changes of one fetch (every partition's, each in order) recorded as pending:
        one call to the state for every store (one pipelined round trip), whatever the
        number of partitions and stores."""
        items = [item for _, batch in parts for item in batch]
        if not items:
            return
        # narrow from the consumer's decoder, full from the pydantic one (ADR 0041)
        changes: list[ChangeFacts] = [
            i.event.payload for i in items if isinstance(i.event, NarrowChanged | InventoryChanged)
        ]
        rejected = [i.event.payload for i in items if isinstance(i.event, SyncChangeRejected)]
        if not changes and not rejected:
            return
        # One span per batch, continuing the trace of its newest change.
        with handling(items[-1], "shopify-sync record"):
            entries = {}
            for store in self.stores.stores:
                if mine := _entries(store, changes, rejected):
                    entries[store.shop] = mine
            if not entries:
                return
            for shop, kept in (await self.state.record_many(entries)).items():
                if kept:
                    SYNC_CLOCK.note(shop, entries[shop])
                    self.lanes.wake(shop)


def _entries(
    store: Store, changes: list[ChangeFacts], rejected: list[RejectedChange]
) -> dict[ItemKey, Pending]:
    """What the store should show of the fetch's changes: the latest version per item."""
    entries = pending_for_store(changes, store)
    for r in rejected:  # replayed dead letters: this shop's own, at a location it maps
        if r.shop != store.shop or r.location not in store.locations:
            continue
        key: ItemKey = (r.sku, r.location)
        cur = entries.get(key)
        if cur is None or r.version > cur.version:
            entries[key] = Pending(r.version, r.quantity)
    return entries
