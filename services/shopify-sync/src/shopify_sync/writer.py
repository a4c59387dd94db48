"""One push round for one shop: everything pending, resolved, compared, and written in
compare-and-set batches of up to 250 quantities.

For each pending (SKU, location): the store's inventory item (catalog mapping), the level
last seen there (``changeFromQuantity``; read from the store when unknown). Levels already
equal to truth need no call. The rest go out as ``inventorySetQuantities`` with
``@idempotent(key:)``; user errors are handled per ``domain.user_errors``. Transient
failures (5xx, timeouts, an open circuit) propagate: the entries stay pending, and the lane
backs off. Nothing pending is dropped except what can never be applied (dead-lettered).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from shopify_sync.adapters import metrics
from shopify_sync.adapters.documents import MUTATION_COST, SET_QUANTITIES
from shopify_sync.adapters.shopify import QueryError, ShopifyClient
from shopify_sync.adapters.sync_trace import SYNC_CLOCK
from shopify_sync.domain.quantities import (
    BATCH_LIMIT,
    ItemKey,
    Pending,
    Target,
    chunks,
    quantities,
    set_variables,
)
from shopify_sync.domain.user_errors import Action, Verdict, classify
from shopify_sync.mapping import CatalogMapping
from shopify_sync.ports import DeadLetters, SyncState
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
MAX_REMAPS = 2


@dataclass
class Outcome:
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    unlisted: int = 0
    deferred: int = 0
    calls: int = 0


@dataclass
class Writer:
    client: ShopifyClient
    mapping: CatalogMapping
    state: SyncState
    dead_letters: DeadLetters
    sleep: Sleep
    max_stale_retries: int = 3
    remaps: dict[tuple[str, str], int] = field(default_factory=dict)

    async def push_pending(self, store: Store) -> Outcome:
        out = Outcome()
        snapshot = await self.state.pending(store.shop)
        if not snapshot:
            return out
        targets = await self._targets(store, snapshot, out)
        levels = await self._levels(store, targets)
        unstocked = [t for t in targets if levels.get(t.key) is None]
        await self._reject(store, unstocked, "INVALID_LOCATION", "not stocked at location", out)
        todo = [t for t in targets if levels.get(t.key) is not None]
        same = [t for t in todo if levels[t.key] == t.quantity]
        await self.state.applied(store.shop, {t.key: (t.pending, t.quantity) for t in same})
        out.unchanged += len(same)
        differ = [t for t in todo if levels[t.key] != t.quantity]
        known: dict[ItemKey, int] = {t.key: int(levels[t.key] or 0) for t in differ}
        for chunk in chunks(differ, BATCH_LIMIT):
            await self._push(store, list(chunk), known, out)
        return out

    async def _targets(
        self, store: Store, snapshot: dict[ItemKey, Pending], out: Outcome
    ) -> list[Target]:
        mapped = await self.mapping.resolve(store, {sku for sku, _ in snapshot})
        targets: list[Target] = []
        unlisted: dict[ItemKey, Pending] = {}
        for key, pending in snapshot.items():
            entry = mapped.get(key[0])
            location_gid = store.locations.get(key[1])
            if entry is None or location_gid is None:
                unlisted[key] = pending  # the store does not sell it: nothing to show
                continue
            targets.append(Target(key, pending, entry.item_id, location_gid))
        await self.state.discard(store.shop, unlisted)
        out.unlisted += len(unlisted)
        return targets

    async def _levels(self, store: Store, targets: Sequence[Target]) -> dict[ItemKey, int | None]:
        known = await self.state.known(store.shop, [t.key for t in targets])
        levels: dict[ItemKey, int | None] = {k: v.level for k, v in known.items()}
        unknown = [t for t in targets if levels.get(t.key) is None]
        if unknown:
            levels.update(await self.mapping.read_levels(store, unknown))
        return levels

    async def _push(
        self, store: Store, chunk: list[Target], known: dict[ItemKey, int], out: Outcome
    ) -> None:
        salt = 0
        for _ in range(self.max_stale_retries + 1):
            if not chunk:
                return
            versions = [t.pending.version for t in chunk]
            variables = set_variables(store.shop, quantities(chunk, known), salt, versions)
            try:
                with (
                    metrics.PUSH_SECONDS.labels(store.shop).time(),
                    SYNC_CLOCK.mutation(store.shop, [t.key for t in chunk]),
                ):
                    data = await self.client.execute(
                        store, SET_QUANTITIES, variables,
                        operation="SetInventoryQuantities", cost=MUTATION_COST,
                    )  # fmt: skip
            except QueryError as exc:
                await self._reject(store, chunk, "QUERY_ERROR", str(exc), out)
                return
            out.calls += 1
            errors = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
            if not errors:
                done = {t.key: (t.pending, t.quantity) for t in chunk}
                await self.state.applied(store.shop, done)
                SYNC_CLOCK.done(store.shop, done)
                metrics.PUSHED.labels(store.shop).inc(len(chunk))
                out.applied += len(chunk)
                return
            for error in errors:
                metrics.USER_ERRORS.labels(store.shop, str(error.get("code"))).inc()
            chunk, salt = await self._handle(
                store, chunk, classify(errors, len(chunk)), known, salt, out
            )
        out.deferred += len(chunk)  # levels kept moving: left pending for the next round

    async def _handle(
        self,
        store: Store,
        chunk: list[Target],
        verdict: Verdict,
        known: dict[ItemKey, int],
        salt: int,
        out: Outcome,
    ) -> tuple[list[Target], int]:
        """What is left of the chunk after its user errors, and the key salt to use."""
        request = verdict.request
        if request is not None and request.action in (Action.REJECT, Action.REMAP):
            await self._reject(store, chunk, request.code, request.message, out)
            return [], salt
        if request is not None and request.action == Action.WAIT:
            await self.sleep(0.5)
        if request is not None and request.action == Action.NEW_KEY:
            salt += 1
        drop: set[int] = set()
        for index in verdict.indexes(Action.REJECT):
            problem = verdict.items[index]
            await self._reject(store, [chunk[index]], problem.code, problem.message, out)
            drop.add(index)
        drop |= await self._remap(store, chunk, verdict.indexes(Action.REMAP), out)
        drop |= await self._refresh(store, chunk, verdict.indexes(Action.REFRESH), known, out)
        if verdict.indexes(Action.NEW_KEY):
            salt += 1
        if verdict.indexes(Action.WAIT):
            await self.sleep(0.5)
        return [t for i, t in enumerate(chunk) if i not in drop], salt

    async def _refresh(
        self,
        store: Store,
        chunk: list[Target],
        indexes: list[int],
        known: dict[ItemKey, int],
        out: Outcome,
    ) -> set[int]:
        """A sale raced the push: read those levels again; some may now equal truth."""
        if not indexes:
            return set()
        metrics.STALE.labels(store.shop).inc()
        stale = [chunk[i] for i in indexes]
        fresh = await self.mapping.read_levels(store, stale)
        drop: set[int] = set()
        done: dict[ItemKey, tuple[Pending, int]] = {}
        for index, target in zip(indexes, stale, strict=True):
            level = fresh.get(target.key)
            if level is None:
                await self._reject(store, [target], "INVALID_LOCATION", "not stocked", out)
                drop.add(index)
            elif level == target.quantity:
                done[target.key] = (target.pending, level)
                drop.add(index)
            else:
                known[target.key] = level
        await self.state.applied(store.shop, done)
        out.unchanged += len(done)
        return drop

    async def _remap(
        self, store: Store, chunk: list[Target], indexes: list[int], out: Outcome
    ) -> set[int]:
        """The item is gone: forget the mapping, leave the change pending to be resolved
        again next round; after a few tries it is dead-lettered."""
        drop: set[int] = set()
        for index in indexes:
            target = chunk[index]
            tries = self.remaps.get((store.shop, target.key[0]), 0) + 1
            self.remaps[(store.shop, target.key[0])] = tries
            if tries > MAX_REMAPS:
                await self._reject(store, [target], "INVALID_INVENTORY_ITEM", "item unknown", out)
            else:
                await self.mapping.catalog.remove(store.shop, [target.key[0]])
                out.deferred += 1
            drop.add(index)
        return drop

    async def _reject(
        self, store: Store, targets: Sequence[Target], code: str, detail: str, out: Outcome
    ) -> None:
        if not targets:
            return
        rejected = {t.key: (t.pending, f"{code}: {detail}") for t in targets}
        log.error(
            "changes rejected by the store",
            extra={"shop": store.shop, "code": code, "count": len(rejected)},
        )
        await self.dead_letters.reject(store.shop, rejected, code)
        await self.state.discard(store.shop, {k: p for k, (p, _) in rejected.items()})
        metrics.REJECTED.labels(store.shop, code).inc(len(rejected))
        out.rejected += len(rejected)
