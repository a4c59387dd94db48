"""One push round for one shop: everything pending, resolved, compared, and written in
compare-and-set batches of up to 250 quantities.

For each pending (SKU, location): the store's inventory item (catalog mapping), the level
last seen there (``changeFromQuantity``; read from the store when unknown). Levels already
equal to truth need no call. The rest go out as ``inventorySetQuantities`` with
``@idempotent(key:)``; user errors are handled per ``domain.user_errors``. Transient
failures (5xx, timeouts, an open circuit) propagate: the entries stay pending, and the lane
backs off. Nothing pending is dropped except what can never be applied (dead-lettered).

Each call is recorded as an intent before it is sent and dropped once its outcome is
recorded; a round that finds intents left over (a failure between the call and its record,
or a process before this one) resolves them first by sending them again with their
idempotency key (``domain.intents``).

Several rounds of one shop may run at once (the lane starts another while a call is in
flight): each takes only SKUs no other round of that shop holds, so every SKU's pending
entry, last known level, exposure and intent has one writer at a time. A newer change of a
held SKU waits for the round holding it. Writes in doubt are resolved only while no other
round of the shop runs: a replay must never race the call it repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.adapters import metrics
from shopify_sync.adapters.documents import ADJUST_QUANTITIES, MUTATION_COST, SET_QUANTITIES
from shopify_sync.adapters.exposures import LocalExposures
from shopify_sync.adapters.intents import LocalIntents
from shopify_sync.adapters.shopify import QueryError, ShopifyClient
from shopify_sync.adapters.sync_trace import SYNC_CLOCK
from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.kit_gate import Selling, kit_cap, linked_skus
from shopify_sync.domain.quantities import (
    BATCH_LIMIT,
    Exposure,
    ItemKey,
    Known,
    Pending,
    Plan,
    Target,
    adjust_variables,
    chunks,
    quantities,
    set_variables,
    write_plan,
)
from shopify_sync.domain.user_errors import Action, Verdict, classify
from shopify_sync.mapping import CatalogMapping
from shopify_sync.ports import (
    Claim,
    DeadLetters,
    Exposures,
    Intents,
    RoundRead,
    RoundReads,
    Settler,
    SyncState,
)
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
MAX_REMAPS = 2
# An item a sale raced is written apart from the others for this long after (a hot SKU in a
# flash sale sells again before most writes land), with one retry per round after its level
# is read again: its next try is the next round, which the deferral starts at once.
CONTENDED_S = 2.0
RACED_TRIES = 2
# Names every push of this process (a chunk's calls and their retries in one round), and
# no other's: part of its calls' idempotency keys (``domain.quantities.idempotency_key``), so
# that no two rounds' calls share a key. Within a push, the items, compare values and salt
# tell calls apart, and a call resent after IDEMPOTENCY_CONCURRENT_REQUEST keeps its key.
PUSHES = (f"{uuid.uuid4().hex}:{n}" for n in itertools.count())
SET = (SET_QUANTITIES, "SetInventoryQuantities")
ADJUST = (ADJUST_QUANTITIES, "AdjustInventoryQuantities")


@dataclass
class Outcome:
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    unlisted: int = 0
    deferred: int = 0
    calls: int = 0
    gave_up: int = 0  # units stores were lowered by under channel allocation (room for others)
    held: int = 0  # raises under allocation held back, waiting for that room
    busy: int = 0  # pending entries left to the rounds in flight that hold their SKUs
    freed: bool = False  # this round's SKUs were wanted by another round while it ran
    waiting: bool = False  # writes in doubt to resolve once the rounds in flight are done


@dataclass
class Batch:
    """One push round's working figures for one shop."""

    levels: dict[ItemKey, int]  # what the store shows, as last seen (compare-and-set)
    exposures: dict[ItemKey, Exposure]  # what it could sell at our last write or read
    caps: dict[ItemKey, int] = field(default_factory=dict)  # raises granted by the gate
    held: set[ItemKey] = field(default_factory=set)  # raised less than truth allows: stay pending
    plans: dict[ItemKey, Plan] = field(default_factory=dict)
    read: set[ItemKey] = field(default_factory=set)  # levels read from the store this round
    guessed: set[ItemKey] = field(default_factory=set)  # levels derived, not seen: verify


@dataclass
class Writer:
    client: ShopifyClient
    mapping: CatalogMapping
    state: SyncState
    dead_letters: DeadLetters
    sleep: Sleep
    max_stale_retries: int = 3
    exposures: Exposures = field(default_factory=LocalExposures)
    intents: Intents = field(default_factory=LocalIntents)
    remaps: dict[tuple[str, str], int] = field(default_factory=dict)
    # shops whose intents are all resolved as far as this process knows: it checked Redis
    # once, and no round failed since (a failed round may leave its intent behind)
    settled_shops: set[str] = field(default_factory=set)
    # per shop: the rounds running now, and the SKUs they hold
    rounds: dict[str, int] = field(default_factory=dict)
    held_skus: dict[str, set[str]] = field(default_factory=dict)
    waiters: set[str] = field(default_factory=set)  # shops with entries left to held SKUs
    # per shop: items a sale raced lately (monotonic time the mark ends); they are written in
    # calls of their own, after the others (``_round_of``)
    contended: dict[str, dict[ItemKey, float]] = field(default_factory=dict)
    contended_s: float = CONTENDED_S
    clock: Callable[[], float] = time.monotonic
    # records a settled write in one step; None: exposures, then levels and intents, in turn
    settler: Settler | None = None
    # reads a round's pending changes with their levels and entries; None: one, then two
    reads: RoundReads | None = None

    async def push_pending(self, store: Store) -> Outcome:
        out, shop = Outcome(), store.shop
        # Budget first, then the snapshot: changes recorded while the bucket refills go out
        # in this round's call instead of waiting for another refill after it.
        await self.client.ready_for(shop, MUTATION_COST)
        if shop not in self.settled_shops:
            if self.rounds.get(shop):
                out.waiting = True  # a replay must not race a call still in flight
                return out
            async with self._running(shop):
                await self.resolve_in_doubt(store)
        async with self._running(shop):
            await self._round(store, out)
        return out

    @contextlib.asynccontextmanager
    async def _running(self, shop: str) -> AsyncIterator[None]:
        """Counts a round (or a resolution) of ``shop`` while it runs; one that fails may
        leave a write in doubt, so the shop is resolved again before its next round."""
        self.rounds[shop] = self.rounds.get(shop, 0) + 1
        try:
            yield
        except BaseException:
            self.settled_shops.discard(shop)
            raise
        finally:
            self.rounds[shop] -= 1

    async def resolve_in_doubt(self, store: Store) -> int:
        """Send every write left in doubt again with its idempotency key and record what the
        answer says the store did (``domain.intents``); the number resolved. A transient
        failure leaves the rest for the next round, which tries again before anything else."""
        shop, resolved = store.shop, 0
        for key, intent in (await self.intents.all(shop)).items():
            document, operation = ADJUST if intent.adjusts else SET
            try:
                data = await self.client.execute(
                    store, document, intent.variables, operation=operation, cost=MUTATION_COST
                )
                errors = user_errors(data)
            except QueryError as exc:
                errors = [{"message": str(exc)}]
            applied = not errors
            if applied:
                await self.exposures.put(shop, intent.after)
                await self.state.observed(shop, intent.levels)
            else:  # never applied: the store could sell what it could before the call
                await self.exposures.put(shop, intent.before)
            await self.intents.drop(shop, [key])
            outcome = "applied" if applied else "void"
            metrics.IN_DOUBT.labels(shop, outcome).inc()
            log.warning(
                "a write in doubt resolved",
                extra={"shop": shop, "outcome": outcome, "items": len(intent.levels)},
            )
            resolved += 1
        self.settled_shops.add(shop)
        return resolved

    async def _round(self, store: Store, out: Outcome) -> None:
        shop = store.shop
        start: RoundRead | None = None
        if self.reads is not None:  # with their levels and catalog entries: one round trip
            start = await self.reads.pending_round(shop)
            pending = start.pending
        else:
            pending = await self.state.pending(shop)
        held = self.held_skus.setdefault(shop, set())
        snapshot = {k: p for k, p in pending.items() if k[0] not in held}
        out.busy = len(pending) - len(snapshot)
        if out.busy:
            self.waiters.add(shop)  # the round releasing SKUs next says so (``freed``)
        if not snapshot:
            return
        # A kit's component is written knowing what the store shows of its kits, a kit
        # knowing what it shows of its components and their other kits (the gate below): no
        # other round of the shop may write them meanwhile. One whose linked SKU another
        # round holds waits for it, as a held SKU's entry does.
        linked = {k: linked_skus(p) for k, p in snapshot.items()}
        for key in [k for k, kits in linked.items() if kits & held]:
            del snapshot[key]
            out.busy += 1
            self.waiters.add(shop)
        if not snapshot:
            return
        skus = {sku for sku, _ in snapshot}
        skus |= {kit for k in snapshot for kit in linked[k]}
        held |= skus
        try:
            await self._round_of(store, snapshot, out, start)
        finally:
            held -= skus
            if shop in self.waiters:
                self.waiters.discard(shop)
                out.freed = True

    async def _round_of(
        self,
        store: Store,
        snapshot: dict[ItemKey, Pending],
        out: Outcome,
        start: RoundRead | None = None,
    ) -> None:
        shop = store.shop
        # The mapping, the levels last seen and the exposures depend only on the keys: one
        # wait for the three reads, not three in a row. ``start``: the catalog entries and
        # levels came with the pending changes (``reads``); the exposures are mostly in memory.
        keys = list(snapshot)
        skus = {sku for sku, _ in keys}
        if start is not None:
            mapped, exposures = await asyncio.gather(
                self.mapping.resolve(store, skus, start.entries), self.exposures.of(shop, keys)
            )
            known = {k: start.known.get(k, Known()) for k in keys}
        else:
            mapped, known, exposures = await asyncio.gather(
                self.mapping.resolve(store, skus),
                self.state.known(shop, keys),
                self.exposures.of(shop, keys),
            )
        targets = await self._targets(store, snapshot, mapped, out)
        levels, read = await self._levels(store, targets, {k: v.level for k, v in known.items()})
        unstocked = [t for t in targets if levels.get(t.key) is None]
        await self._reject(store, unstocked, "INVALID_LOCATION", "not stocked at location", out)
        todo = [t for t in targets if levels.get(t.key) is not None]
        # A claim still unconfirmed here was left by a round that never sent its call (an
        # intent sent is resolved before any round): the raise was not applied.
        exposures = {t.key: exposures[t.key].unconfirmed() for t in todo if t.key in exposures}
        batch = Batch({t.key: int(levels[t.key] or 0) for t in todo}, exposures, read=read)
        for t in todo:
            batch.plans[t.key] = self._plan(store, t, batch)
        out.held += await self._gate(store, todo, batch)
        same = [t for t in todo if not self._differs(t, batch)]
        await self._settled(store, same, batch)
        # applied without a write (a held raise stays pending: its change is still waiting)
        SYNC_CLOCK.settled(shop, [t.key for t in same if t.key not in batch.held])
        out.unchanged += len(same)
        differ = [t for t in todo if self._differs(t, batch)]
        # Items a sale raced lately are likely raced again (a hot SKU selling in this store):
        # the others go first, in calls without them, so one refusal of a call (it is all or
        # nothing) never holds them back; the raced get one call and one retry per round.
        raced = self._contended(shop)
        calm = [t for t in differ if t.key not in raced]
        hot = [t for t in differ if t.key in raced]
        for chunk in chunks(calm, BATCH_LIMIT):
            await self._push(store, list(chunk), batch, out)
        for chunk in chunks(hot, BATCH_LIMIT):
            await self._push(store, list(chunk), batch, out, tries=RACED_TRIES)

    def _contended(self, shop: str) -> set[ItemKey]:
        """The items of ``shop`` a sale raced within the last ``contended_s`` seconds."""
        marks, now = self.contended.get(shop, {}), self.clock()
        for key in [k for k, until in marks.items() if until <= now]:
            del marks[key]
        return set(marks)

    def _plan(self, store: Store, t: Target, batch: Batch) -> Plan:
        """The write invariant for one item. The first time we meet an item (no exposure
        recorded), a count read from the store this round is taken as what it can sell: a
        count that drops after that read is a sale truth has not seen. A count remembered
        from earlier says nothing of when the store sold what it is missing."""
        level = batch.levels[t.key]
        exposure = batch.exposures.get(t.key)
        own = t.pending.own_seen(store.shop)
        if exposure is not None and t.key not in batch.read and exposure.raw(own) < level:
            # The store cannot show more than it can sell: sales truth applied since our
            # last look took the remembered count down. Compare-and-set from there, even
            # when that already is the target: the write confirms the guess (a wrong one is
            # a stale answer and a read, never a raise, never a store left above truth).
            level = max(0, exposure.raw(own))
            batch.levels[t.key] = level
            batch.guessed.add(t.key)
        if exposure is None and t.key in batch.read:
            exposure = Exposure(level, 0 if own is None else own)
            batch.exposures[t.key] = exposure
        return write_plan(t.pending, store.shop, level, exposure)

    async def _gate(self, store: Store, todo: Sequence[Target], batch: Batch) -> int:
        """Under channel allocation a store is raised only into room no other store holds:
        a giver is lowered first, its taker raised after (see ``Exposures.claim``); and a
        kit's component only into room the store's own kits left (``_kit_caps``)."""
        kit_caps = await self._kit_caps(store, todo, batch)
        claims = [
            Claim(t.key, plan.before, min(plan.after, kit_caps.get(t.key, plan.after)),
                  plan.seen, t.pending)
            for t in todo
            if t.pending.shared and (plan := batch.plans[t.key]).raises
        ]  # fmt: skip
        granted = await self.exposures.claim(store.shop, claims)
        for claim, cap in zip(claims, granted, strict=True):
            batch.caps[claim.key] = cap
            if cap < batch.plans[claim.key].after:
                batch.held.add(claim.key)
                metrics.RAISES_HELD.labels(store.shop).inc()
        return len(batch.held)

    async def _kit_caps(
        self, store: Store, todo: Sequence[Target], batch: Batch
    ) -> dict[ItemKey, int]:
        """The most each raise of a kit, or of a kit's component, may give the store
        (``domain.kit_gate``): a lowering not written yet (its change not here, or not
        answered) still counts at its old count, so the raise waits for it, pending. What
        the store can sell of a SKU is its exposure (a claim counts as granted), else its
        level last seen, else what truth gives it there (the gate orders the sync's own
        writes). Only raises of kits and their components read anything: one wait."""
        linked = [
            t
            for t in todo
            if (t.pending.kits or t.pending.components) and batch.plans[t.key].raises
        ]
        if not linked:
            return {}
        shop = store.shop
        keys = sorted({(sku, t.key[1]) for t in linked for sku in linked_skus(t.pending)})
        exposures, known = await asyncio.gather(
            self.exposures.of(shop, keys), self.state.known(shop, keys)
        )

        def selling_at(location: str) -> Selling:
            def selling(sku: str, unmet: int) -> int:
                exposure = exposures.get((sku, location))
                if exposure is not None:
                    return max(0, exposure.base)
                seen = known.get((sku, location))
                level = seen.level if seen is not None else None
                return max(0, unmet if level is None else level)

            return selling

        caps: dict[ItemKey, int] = {}
        for t in linked:
            cap = kit_cap(t.key[0], t.pending, selling_at(t.key[1]))
            if cap is not None:
                caps[t.key] = cap
        return caps

    def _differs(self, t: Target, batch: Batch) -> bool:
        return t.key in batch.guessed or self._quantity(t, batch) != batch.levels[t.key]

    @staticmethod
    def _quantity(t: Target, batch: Batch) -> int:
        plan = batch.plans[t.key]
        cap = batch.caps.get(t.key)
        if cap is None:
            return plan.quantity
        return max(0, min(plan.quantity, cap - plan.unseen))

    async def _settled(
        self, store: Store, targets: Sequence[Target], batch: Batch, intent: str | None = None
    ) -> None:
        """The store shows what it should (after a write, or already): record what it can
        sell; applied, unless the gate held part of the raise back (then it stays pending
        and the next round tries again)."""
        if not targets:
            return
        exposures = {t.key: self._exposure_after(t, batch) for t in targets}
        done = {t.key: (t.pending, self._quantity(t, batch)) for t in targets}
        held = {k: level for k, (_, level) in done.items() if k in batch.held}
        applied = {k: v for k, v in done.items() if k not in held}
        intents = [intent] if intent else []
        if self.settler is not None:  # all of it in one step (one script call on one Redis)
            await self.settler.settle(store.shop, exposures, applied, held, intents)
            return
        # What the store can sell is recorded before the pending entry and the write's
        # intent go: a crash or a Redis error between them leaves the change pending and
        # the write in doubt, never a raise the other stores' gate cannot see, nor a count
        # our own write left taken for unseen sales. The rest touch other fields: one wait.
        await self.exposures.put(store.shop, exposures)
        await asyncio.gather(
            self.state.applied(store.shop, applied),
            self.state.observed(store.shop, held),
            self.intents.drop(store.shop, intents),
        )

    async def _targets(
        self,
        store: Store,
        snapshot: dict[ItemKey, Pending],
        mapped: Mapping[str, CatalogEntry],
        out: Outcome,
    ) -> list[Target]:
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
        SYNC_CLOCK.settled(store.shop, unlisted)
        # it sells none of them: no room held there, whatever was recorded before
        await self.exposures.put(
            store.shop,
            {k: Exposure(0, p.own_seen(store.shop) or 0) for k, p in unlisted.items()},
        )
        out.unlisted += len(unlisted)
        return targets

    async def _levels(
        self, store: Store, targets: Sequence[Target], known: Mapping[ItemKey, int | None]
    ) -> tuple[dict[ItemKey, int | None], set[ItemKey]]:
        """Each level as last seen, read from the store where unknown (and which were).
        ``known`` was read beside the mapping: a SKU the mapping just looked up in the store
        has its level recorded since, so those are read again before asking the store."""
        levels: dict[ItemKey, int | None] = {t.key: known.get(t.key) for t in targets}
        unknown = [t for t in targets if levels.get(t.key) is None]
        if unknown:
            again = await self.state.known(store.shop, [t.key for t in unknown])
            levels.update({k: v.level for k, v in again.items()})
            unknown = [t for t in unknown if levels.get(t.key) is None]
        if unknown:
            levels.update(await self.mapping.read_levels(store, unknown))
        return levels, {t.key for t in unknown}

    async def _push(
        self,
        store: Store,
        chunk: list[Target],
        batch: Batch,
        out: Outcome,
        tries: int | None = None,
    ) -> None:
        """Write ``chunk`` in one call, retrying what its user errors allow.

        A call is all or nothing: one item a sale raced refuses every other one. The others
        go again at once, without the raced items, which follow in a call of their own once
        their levels were read again (one retry: an item selling through every write, a hot
        SKU in a flash sale, would keep the lane's round, and every change behind it,
        waiting); they are marked contended for the next rounds. A part gets at most
        ``tries`` calls (``max_stale_retries`` + 1); what is left stays pending for the next
        round, except lowerings: a raced one, and one still unwritten when its tries ran
        out, go in one relative adjustment at the end (``_lower``), which no sale can race,
        so that no store is left above its share minus its unseen sales (ADR 0044)."""
        parts: list[tuple[list[Target], int]] = [(chunk, tries or self.max_stale_retries + 1)]
        salt, push = 0, next(PUSHES)
        lowerings: list[Target] = []
        while parts:
            part, left_tries = parts.pop(0)
            left, raced, salt = await self._call(store, part, batch, (salt, push), out)
            left_tries -= 1
            # a raced lowering: its level was just read again, no set of it can do better
            lowerings += [t for t in raced if self._lowers(t, batch)]
            raced = [t for t in raced if not self._lowers(t, batch)]
            for rest, more in ((left, left_tries), (raced, min(left_tries, RACED_TRIES - 1))):
                if rest and more > 0:
                    parts.append((rest, more))
                    continue
                lowerings += [t for t in rest if self._lowers(t, batch)]
                rest = [t for t in rest if not self._lowers(t, batch)]
                if rest:
                    out.deferred += len(rest)  # levels kept moving: pending for the next round
                    await self._unclaim(store, rest, batch)
        await self._lower(store, await self._read_for_lowering(store, lowerings, batch, out),
                          batch, push, out)  # fmt: skip

    def _lowers(self, t: Target, batch: Batch) -> bool:
        return self._quantity(t, batch) < batch.levels[t.key]

    async def _read_for_lowering(
        self, store: Store, targets: list[Target], batch: Batch, out: Outcome
    ) -> list[Target]:
        """The lowerings that can go as a relative adjustment, planned from a level read this
        round. The result of a delta is the store's count now plus it: any count at or below
        the level it was planned from leaves the store at its share minus its unseen sales or
        below (sales since take their units off; ``Exposure.unseen`` moves one for one with
        the count). A count above it would not: a level remembered from an earlier round, or
        guessed from the sales truth applied (``_plan``), may be below the count (sales that
        never took it down, a merchant's edit), so those are read first. What then needs no
        write is settled; what no longer lowers stays pending."""
        unread = [
            i for i, t in enumerate(targets) if t.key not in batch.read or t.key in batch.guessed
        ]
        dropped = await self._refresh(store, targets, unread, batch, out)
        kept = [t for i, t in enumerate(targets) if i not in dropped]
        rest = [t for t in kept if not self._lowers(t, batch)]
        if rest:
            out.deferred += len(rest)
            await self._unclaim(store, rest, batch)
        return [t for t in kept if self._lowers(t, batch)]

    async def _call(
        self, store: Store, chunk: list[Target], batch: Batch, key: tuple[int, str], out: Outcome
    ) -> tuple[list[Target], list[Target], int]:
        """One ``inventorySetQuantities`` call for ``chunk`` (``key``: the salt and the push
        its idempotency key is made with): what is left to send again (the items no error
        named, then those a sale raced) and the key salt to use next."""
        salt, push = key
        versions = [t.pending.version for t in chunk]
        planned = {t.key: self._quantity(t, batch) for t in chunk}
        variables = set_variables(
            store.shop, quantities(chunk, batch.levels, planned), salt, versions, push
        )
        errors = await self._send(store, chunk, batch, planned, variables, SET, out)
        if not errors:  # applied, or refused whole (None)
            return [], [], salt
        left, raced, salt = await self._handle(
            store, chunk, classify(errors, len(chunk)), batch, salt, out
        )
        again = {t.key for t in (*left, *raced)}
        await self._unclaim(store, [t for t in chunk if t.key not in again], batch)
        return left, raced, salt

    async def _send(
        self,
        store: Store,
        targets: list[Target],
        batch: Batch,
        planned: dict[ItemKey, int],
        variables: dict[str, Any],
        mutation: tuple[str, str],
        out: Outcome,
    ) -> list[dict[str, Any]] | None:
        """Send one inventory mutation (``mutation``: its document and operation name) for
        ``targets``, recorded as an intent first: whatever happens after the call, the next
        round knows this write may have been applied (``resolve_in_doubt``). Applied, it is
        recorded and ``[]`` returned; refused, its user errors; a request the store refused
        whole (``QueryError``), ``None``, its items rejected."""
        intent = self._intent(targets, batch, planned, variables)
        await self.intents.put(store.shop, intent)
        document, operation = mutation
        try:
            with (
                metrics.PUSH_SECONDS.labels(store.shop).time(),
                SYNC_CLOCK.mutation(store.shop, [t.key for t in targets]),
            ):
                data = await self.client.execute(
                    store, document, variables, operation=operation, cost=MUTATION_COST
                )
        except QueryError as exc:
            await self.intents.drop(store.shop, [intent.key])  # refused: nothing applied
            await self._reject(store, targets, "QUERY_ERROR", str(exc), out)
            await self._unclaim(store, targets, batch)
            return None
        out.calls += 1
        errors = user_errors(data)
        if not errors:
            out.gave_up += await self._written(store, targets, batch, intent.key)
            out.applied += len(targets)
            return []
        await self.intents.drop(store.shop, [intent.key])  # all or nothing: not applied
        for error in errors:
            metrics.USER_ERRORS.labels(store.shop, str(error.get("code"))).inc()
        return errors

    async def _lower(
        self, store: Store, targets: list[Target], batch: Batch, push: str, out: Outcome
    ) -> None:
        """Lower ``targets`` by the difference between their planned quantity and the level
        it was planned from, in one ``inventoryAdjustQuantities`` without compare-and-set: a
        sale the store makes meanwhile takes its unit off the result (it is an unseen sale
        either way), so the call cannot be raced, and the store is left at its share minus
        its unseen sales or below (``_read_for_lowering``). Recorded as an intent first, like every
        write; refused, the items stay pending for the next round (or are dead-lettered if
        they never can be)."""
        if not targets:
            return
        planned = {t.key: self._quantity(t, batch) for t in targets}
        items = quantities(targets, batch.levels, planned)
        versions = [t.pending.version for t in targets]
        variables = adjust_variables(store.shop, items, versions, push)
        metrics.LOWERED.labels(store.shop).inc(len(targets))
        errors = await self._send(store, targets, batch, planned, variables, ADJUST, out)
        if not errors:  # applied, or refused whole (None)
            return
        verdict = classify(errors, len(targets))
        request = verdict.request
        if request is not None and request.action == Action.REJECT:
            await self._reject(store, targets, request.code, request.message, out)
            await self._unclaim(store, targets, batch)
            return
        drop: set[int] = set()
        for index in verdict.indexes(Action.REJECT):
            problem = verdict.items[index]
            await self._reject(store, [targets[index]], problem.code, problem.message, out)
            drop.add(index)
        drop |= await self._remap(store, targets, verdict.indexes(Action.REMAP), out)
        rest = [t for i, t in enumerate(targets) if i not in drop]
        out.deferred += len(rest)  # pending: the next round plans them again
        await self._unclaim(store, targets, batch)

    async def _unclaim(self, store: Store, targets: Sequence[Target], batch: Batch) -> None:
        """Raises the gate granted (``Exposures.claim`` recorded them before the call) whose
        call was refused and that go no further this round (rejected, remapped, or left
        pending): record what the store can sell without them. Left as claimed, the next
        round would read the units never written as sales truth has not applied, and hold
        the store below its share for good (units on sale nowhere). The items that go
        again keep their claim until their own answer."""
        back = {t.key: self._exposure_before(t, batch) for t in targets if t.key in batch.caps}
        await self.exposures.put(store.shop, back)

    def _intent(
        self,
        chunk: Sequence[Target],
        batch: Batch,
        planned: dict[ItemKey, int],
        variables: dict[str, Any],
    ) -> Intent:
        after = {t.key: self._exposure_after(t, batch) for t in chunk}
        before = {t.key: self._exposure_before(t, batch) for t in chunk}
        return Intent(variables, planned, after, before)

    @staticmethod
    def _exposure_before(t: Target, batch: Batch) -> Exposure:
        """What the store can sell if the write is not applied: what it shows, plus the
        sales it made that truth has not applied yet."""
        plan = batch.plans[t.key]
        return Exposure(plan.before, plan.seen)

    def _exposure_after(self, t: Target, batch: Batch) -> Exposure:
        """What the store can sell once the write is applied: what it shows then, plus the
        sales it made that truth has not applied yet."""
        plan = batch.plans[t.key]
        return Exposure(self._quantity(t, batch) + plan.unseen, plan.seen)

    async def _written(self, store: Store, chunk: list[Target], batch: Batch, intent: str) -> int:
        """Record an applied write; the units it lowered stores by under allocation."""
        shop, gave_up = store.shop, 0
        for t in chunk:
            plan, quantity = batch.plans[t.key], self._quantity(t, batch)
            if plan.unseen:
                metrics.UNSEEN_HELD.labels(shop).inc(min(plan.unseen, t.pending.quantity))
            if t.pending.shared and quantity > batch.levels[t.key]:
                metrics.SHARE_MOVES.labels(shop).inc(quantity - batch.levels[t.key])
            if t.pending.shared and quantity < batch.levels[t.key]:
                gave_up += batch.levels[t.key] - quantity
        await self._settled(store, chunk, batch, intent)
        SYNC_CLOCK.done(shop, {t.key: (t.pending, self._quantity(t, batch)) for t in chunk})
        metrics.PUSHED.labels(shop).inc(len(chunk))
        return gave_up

    async def _handle(
        self,
        store: Store,
        chunk: list[Target],
        verdict: Verdict,
        batch: Batch,
        salt: int,
        out: Outcome,
    ) -> tuple[list[Target], list[Target], int]:
        """What is left of the chunk after its user errors (the items no error named or
        whose error asks for the same call again, then the raced items to write anew) and
        the key salt to use."""
        request = verdict.request
        if request is not None and request.action in (Action.REJECT, Action.REMAP):
            await self._reject(store, chunk, request.code, request.message, out)
            return [], [], salt
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
        stale = verdict.indexes(Action.REFRESH)
        if stale:
            metrics.STALE.labels(store.shop).inc()
        until = self.clock() + self.contended_s
        self.contended.setdefault(store.shop, {}).update({chunk[i].key: until for i in stale})
        drop |= await self._refresh(store, chunk, stale, batch, out)
        if verdict.indexes(Action.NEW_KEY):
            salt += 1
        if verdict.indexes(Action.WAIT):
            await self.sleep(0.5)
        left = [t for i, t in enumerate(chunk) if i not in drop and i not in stale]
        raced = [chunk[i] for i in stale if i not in drop]
        return left, raced, salt

    async def _refresh(
        self,
        store: Store,
        chunk: list[Target],
        indexes: list[int],
        batch: Batch,
        out: Outcome,
    ) -> set[int]:
        """A sale raced the push (or a lowering is to go as an adjustment): read those levels
        again and plan each write anew from the count now shown, never resending the old
        target: units the store sold since are unseen by truth, and the new target leaves
        them off (the write invariant). Some may now need no write: the indexes of those,
        and of items the store no longer stocks there (rejected)."""
        if not indexes:
            return set()
        stale = [chunk[i] for i in indexes]
        fresh = await self.mapping.read_levels(store, stale)
        drop: set[int] = set()
        settled: list[Target] = []
        for index, target in zip(indexes, stale, strict=True):
            level = fresh.get(target.key)
            if level is None:
                await self._reject(store, [target], "INVALID_LOCATION", "not stocked", out)
                drop.add(index)
                continue
            batch.levels[target.key] = level
            batch.read.add(target.key)
            batch.guessed.discard(target.key)
            batch.plans[target.key] = self._plan(store, target, batch)
            if self._quantity(target, batch) == level:
                settled.append(target)
                drop.add(index)
        await self._settled(store, settled, batch)
        out.unchanged += len(settled)
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
        SYNC_CLOCK.settled(store.shop, rejected)
        metrics.REJECTED.labels(store.shop, code).inc(len(rejected))
        out.rejected += len(rejected)


def user_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``userErrors`` of an ``inventorySetQuantities`` or ``inventoryAdjustQuantities``
    answer (none: it was applied)."""
    result = data.get("inventorySetQuantities") or data.get("inventoryAdjustQuantities") or {}
    errors: list[dict[str, Any]] = result.get("userErrors") or []
    return errors
