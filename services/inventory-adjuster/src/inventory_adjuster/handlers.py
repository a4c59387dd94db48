"""Apply inventory commands and publish what changed."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from inventory_adjuster import hot_events
from inventory_adjuster.adapters.kits import (
    KIT_COMMANDS,
    Components,
    KitApplied,
    KitLevel,
    KitStore,
    KitWait,
    component_key,
    kit_waiting_entry,
    stocked_at,
)
from inventory_adjuster.adapters.publisher import BatchPublisher, Headers
from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from inventory_adjuster.kit_events import (
    component_changes,
    derived_kit_change,
    kit_hold_change,
    kit_hold_moves,
    kit_line_change,
    kit_placement,
    kit_rereserved,
    reshared_changes,
)
from inventory_adjuster.kit_waiting import serve_waiting_kits
from stocksync_common.consumer import Incoming, Parts, PoisonMessage, handling
from stocksync_common.events import (
    Envelope,
    InventoryChanged,
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    Levels,
    OrderLineRef,
    OrderOversold,
    OversoldLine,
    StockChange,
    encode,
    stable_id,
)
from stocksync_common.logs import correlation
from stocksync_common.retry import origin_of
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_LEVELS
from stocksync_common.tracing import inject_headers

log = logging.getLogger(__name__)

COMMANDS_APPLIED = Counter(
    "stocksync_inventory_commands_total",
    "Inventory commands by command and outcome (applied, rejected, duplicate).",
    ["command", "outcome"],
)
OVERSELLS = Counter(
    "stocksync_oversell_rejections_total", "Reservations refused because stock was short."
)
ALLOCATION_SKUS = Gauge(
    "stocksync_allocation_skus",
    "SKUs whose latest change applied by this process left them in channel allocation.",
)
SHARES_MOVED = Counter(
    "stocksync_allocation_units_moved_total",
    "Units new channel-allocation shares gave stores over their last shares (share moves).",
)
_allocated: set[str] = set()


def track_allocation(sku: str, shares: object) -> None:
    """Keep ``stocksync_allocation_skus`` current (per process: partitions it applies)."""
    if shares is not None:
        _allocated.add(sku)
    else:
        _allocated.discard(sku)
    ALLOCATION_SKUS.set(len(_allocated))


@dataclass
class KitIndex:
    """The kits of some SKUs (``kit-index``), read with the batch's routing before it applied."""

    skus: list[str] = field(default_factory=list)  # the SKUs asked for (an empty list: none)
    kits: dict[str, list[str]] = field(default_factory=dict)

    def covers(self, skus: list[str]) -> bool:
        return bool(self.skus) and set(skus) <= set(self.skus)


@dataclass
class CommandHandler:
    store: RedisInventory
    producer: AIOKafkaProducer
    kits: KitStore | None = None
    source: str = "inventory-adjuster"

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        """One partition's batch (see :meth:`handle_many`)."""
        await self.handle_many([(tp, items)])

    async def handle_many(self, parts: Parts) -> None:
        """Apply the batches of one fetch (each partition's records in order) in pipelined
        runs, then publish what changed: every send started at once, all acknowledged
        before returning (the offsets are committed after that), under one span per fetch
        (docs/decisions/0014-adjuster-hot-path.md)."""
        items = [item for _, batch in parts for item in batch]
        if not items:
            return
        commands: list[tuple[InventoryCommandRequested, Position]] = []
        for item in items:
            record = item.record
            if not isinstance(item.event, InventoryCommandRequested):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {record.topic}")
            # A command from the group's retry topic (a retry or a DLQ replay) keeps the
            # position it had in the commands topic: that is what rebuild reads.
            origin = origin_of(record.topic, record.partition, record.offset, record.headers)
            pos = Position(origin.topic, origin.partition, origin.offset)
            commands.append((item.event, pos))
        results, index = await self._apply(commands)
        out = BatchPublisher(self.producer)
        # One span per batch, continuing the trace of its newest command.
        name = f"inventory-adjuster {commands[-1][0].payload.command}"
        with handling(items[-1], name) as span:
            traces = BatchTraces(inject_headers())
            try:
                await self._publish_all(out, traces, items, commands, results, index)
            finally:
                for link in traces.links():
                    span.add_link(link)
                await out.flush()

    async def _publish_all(
        self,
        out: BatchPublisher,
        traces: BatchTraces,
        items: Sequence[Incoming],
        commands: list[tuple[InventoryCommandRequested, Position]],
        results: list[Applied | KitApplied | Invalid],
        index: KitIndex,
    ) -> None:
        moved: set[tuple[str, str]] = set()
        defined: set[str] = set()  # components of kits defined in this batch
        outcomes: dict[tuple[str, str], int] = {}
        try:
            for item, (event, _), result in zip(items, commands, results, strict=True):
                if isinstance(result, Invalid):
                    raise PoisonMessage(result.reason)
                counted = (event.payload.command, result.status)
                outcomes[counted] = outcomes.get(counted, 0) + 1
                trace_headers = traces.of(item.record.headers)
                if isinstance(result, KitApplied):
                    await self._publish_kit(out, trace_headers, event, result)
                else:
                    self._publish(out, trace_headers, event, result)
                    moved.update(await self._after_configure(event.payload, result, defined))
                moved.update(self._moved(event.payload, result))
        finally:  # what was applied is counted, also when a later command is poison
            for (command, status), n in outcomes.items():
                COMMANDS_APPLIED.labels(command, status).inc(n)
        if defined and self.kits is not None:
            # after every change of the batch, so a component's own change never follows
            # the one its allocation's start publishes
            started = await self.kits.start_allocation(defined)
            await self._publish_reshared(out, traces.batch, commands[-1][0], started)
        if moved and self.kits is not None:
            kits_of = await self._kits_of(self.kits, moved, index)
            served = await self._serve_kits(out, traces.batch, moved, commands, kits_of)
            if served:  # their components' other kits follow too
                moved.update(served)
                kits_of = await self.kits.kits_of(sorted({sku for sku, _ in moved}))
            await self._republish_kits(out, traces.batch, moved, commands, kits_of)

    @staticmethod
    async def _kits_of(
        kits: KitStore, moved: set[tuple[str, str]], prefetched: KitIndex
    ) -> dict[str, list[str]]:
        """The kits each moved SKU belongs to (read with the batch's routing when it could)."""
        skus = sorted({sku for sku, _ in moved})
        if prefetched.covers(skus):
            return prefetched.kits
        return await kits.kits_of(skus)  # a kit's components, or a batch defining a kit

    async def _serve_kits(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        moved: set[tuple[str, str]],
        commands: list[tuple[InventoryCommandRequested, Position]],
        kits_of: dict[str, list[str]],
    ) -> list[tuple[str, str]]:
        """Kit lines waiting for stock the batch's movements let through, reserved (ADR 0037):
        each as a kit reserve (its components' changes and levels) and a ``rereserved`` change
        of the kit with the refused reserve's key and order line. What they moved."""
        if not kits_of or self.kits is None:
            return []
        cause = commands[-1][0]
        served_moves: list[tuple[str, str]] = []
        for served in await serve_waiting_kits(self.kits, moved, kits_of):
            event = InventoryCommandRequested(
                id=stable_id(served.cmd.idempotency_key),
                correlation_id=cause.correlation_id,
                causation_id=cause.id,
                source=self.source,
                shop=served.cmd.order.shop if served.cmd.order else None,
                payload=served.cmd,
            )
            await self._publish_kit(out, trace_headers, event, served.applied, placed=False)
            changes = kit_rereserved(served.cmd, served.refused_key, served.levels,
                                     served.routed, kit_placement(served.applied))  # fmt: skip
            for n, change in enumerate(changes):
                tail = (change.location,) if n else ()  # a split line: one per location
                ev = InventoryChanged(
                    id=stable_id(served.refused_key, "rereserved", *tail),
                    correlation_id=cause.correlation_id,
                    causation_id=cause.id,
                    source=self.source,
                    shop=event.shop,
                    payload=change,
                )
                send(out, INVENTORY_CHANGED, change.sku, ev, trace_headers)
            served_moves += self._moved(served.cmd, served.applied)
        return served_moves

    async def _apply(
        self, commands: list[tuple[InventoryCommandRequested, Position]]
    ) -> tuple[list[Applied | KitApplied | Invalid], KitIndex]:
        """Plain commands in pipelined runs; kit commands one by one, in order. Before them,
        in one round trip: the kit definitions that route them and the kits the batch's SKUs
        belong to (what a movement republishes; it was a round trip of its own after the
        apply, one of three per batch)."""
        kit_skus = sorted({e.payload.sku for e, _ in commands if e.payload.command in KIT_COMMANDS})
        index = KitIndex()
        if self.kits is None:
            defs: dict[str, Components] = {}
        elif any(e.payload.command == "configure" for e, _ in commands):
            defs = await self.kits.definitions(kit_skus)  # a kit defined here: read after it
        else:
            index.skus = sorted({e.payload.sku for e, _ in commands})
            defs, index.kits = await self.kits.lookup(kit_skus, index.skus)
        results: list[Applied | KitApplied | Invalid] = []
        run: list[tuple[InventoryCommand, Position]] = []
        for event, pos in commands:
            cmd = event.payload
            if cmd.command in KIT_COMMANDS and cmd.sku in defs and self.kits is not None:
                results.extend(await self.store.apply_many(run))
                run = []
                wait = KitWait(queue=kit_waiting_entry(cmd))
                results.append(await self.kits.apply(cmd, pos, defs[cmd.sku], wait))
            else:
                run.append((cmd, pos))
        results.extend(await self.store.apply_many(run))
        self.store.handled([pos for _, pos in commands])
        return results, index

    @staticmethod
    def _moved(
        cmd: InventoryCommand, result: Applied | KitApplied | Invalid
    ) -> list[tuple[str, str]]:
        if isinstance(result, KitApplied) and result.status == "applied":
            at = str(result.result.get("location") or cmd.location)  # routed: where it went
            return [(c["sku"], str(c.get("location") or at))
                    for c in result.result.get("components", [])]  # fmt: skip
        if isinstance(result, Applied) and result.result.get("status") == "applied":
            served = [(cmd.sku, str(s["location"])) for s in result.result.get("served") or ()]
            routed = result.result.get("allocations")  # a routed command (ADR 0018)
            if routed:
                return [(cmd.sku, str(a["location"])) for a in routed] + served
            return [(cmd.sku, cmd.location), *served]
        return []

    async def _after_configure(
        self, cmd: InventoryCommand, result: Applied, defined: set[str]
    ) -> list[tuple[str, str]]:
        """A kit defined (or redefined): route its commands to the components, note them in
        ``defined`` (their allocation may start: the batch's end does it), and count its
        components as moved at every location they are stocked at, so the kit's
        availability is published at once (every store listing the kit shows it before any
        component changes)."""
        components = cmd.config.kit_components if cmd.config else None
        if not (components and self.kits and result.result.get("status") == "applied"):
            return []
        await self.kits.define(cmd.sku, components)
        defined.update(components)
        return await stocked_at(self.store, components)

    async def _publish_kit(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        event: InventoryCommandRequested,
        result: KitApplied,
        *,
        placed: bool = True,
    ) -> None:
        """A kit command's events. ``placed``: a routed store's reserve says where it placed
        the line (not a waiting line served: its ``rereserved`` change says it)."""
        cmd = event.payload
        # where it applied: a routed command's location is chosen by the script (#23)
        cmd = cmd.model_copy(update={"location": result.result.get("location") or cmd.location})
        tried = result.result.get("tried") or None
        meta = {
            "correlation_id": event.correlation_id,
            "causation_id": event.id,
            "source": self.source,
            "shop": event.shop,
        }
        status = result.result.get("status")
        if status == "applied":
            firsts: set[str] = set()
            for change in component_changes(cmd, result):
                # a component moved at several locations (#23): its later changes' ids name them
                tail = (change.location,) if change.sku in firsts else ()
                firsts.add(change.sku)
                ev = InventoryChanged(
                    id=stable_id(change.idempotency_key, "changed", *tail), payload=change, **meta
                )
                send(out, INVENTORY_CHANGED, change.sku, ev, trace_headers)
            if placed:
                await self._kit_placed(out, trace_headers, cmd, tried, kit_placement(result), meta)
            await self._kit_unheld(out, trace_headers, cmd, result, meta)
        if status in ("applied", "rejected", "duplicate"):
            await self._publish_component_levels(out, trace_headers, cmd, result, meta)
            await self._publish_kit_levels(out, trace_headers, cmd.sku, meta)
        if status == "rejected":
            OVERSELLS.inc()
            line = OversoldLine(
                sku=cmd.sku,
                location=cmd.location,
                requested=cmd.quantity,
                available=0,
                idempotency_key=cmd.idempotency_key,
                order=cmd.order,
                tried=tried,
                waiting=bool(result.result.get("waiting")),
                # a rebuild restores the waiting line's route from it (rebuild_waiting)
                split=bool(cmd.route and cmd.route.split),
            )
            oversold = OrderOversold(
                id=stable_id(cmd.idempotency_key, "oversold"), payload=line, **meta
            )
            send(out, INVENTORY_CHANGED, cmd.sku, oversold, trace_headers)

    async def _kit_placed(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        cmd: InventoryCommand,
        tried: list[str] | None,
        placement: dict[str, int],
        meta: dict[str, str | None],
    ) -> None:
        """A routed store's kit line reserved where the script chose (whole at the first
        location of its route covering it, else split by whole kits when the store allows
        it), said as a routed line's placement (``routed``, ``tried``): one change per
        location, each with the whole placement, the first with the usual id (as a plain
        split line's), so order-consumer counts the line placed and the order's
        ``order.routed`` goes out (ADR 0037)."""
        if cmd.command != "reserve" or cmd.route is None or cmd.order is None or not self.kits:
            return

        def change(at: InventoryCommand, level: KitLevel, _n: int) -> StockChange:
            return kit_line_change(at, level, routed=True, tried=tried, placement=placement)

        await self._per_location(out, trace_headers, cmd, placement, change, meta)

    async def _kit_unheld(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        cmd: InventoryCommand,
        result: KitApplied,
        meta: dict[str, str | None],
    ) -> None:
        """A routed release or commit that took kits off its line's kit hold: a change of the
        kit saying how many and where (:func:`kit_hold_change`), so a rebuild restores the
        hold as it is (issue #23)."""
        held = int(result.result.get("held") or 0)
        if cmd.command == "reserve" or held >= 0 or cmd.order is None or not self.kits:
            return
        moves = kit_hold_moves(result, cmd.location)

        def change(at: InventoryCommand, level: KitLevel, kits: int) -> StockChange:
            return kit_hold_change(at, level, -kits)

        await self._per_location(out, trace_headers, cmd, moves, change, meta)

    async def _per_location(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        cmd: InventoryCommand,
        kits_at: dict[str, int],
        change: Callable[[InventoryCommand, KitLevel, int], StockChange],
        meta: dict[str, str | None],
    ) -> None:
        """One change of the kit per location of a kit line (``kits_at``: kits there), each
        with the kit's level there; the first with the command's usual id, the others with
        their location added (as a plain split line's)."""
        if self.kits is None:
            return
        for n, (loc, kits) in enumerate(kits_at.items()):
            at = cmd.model_copy(update={"location": loc})
            level = (await self.kits.availability([cmd.sku], loc))[cmd.sku]
            tail = (loc,) if n else ()
            key = cmd.idempotency_key
            ev = InventoryChanged(
                id=stable_id(key, "changed", *tail), payload=change(at, level, kits), **meta
            )
            send(out, INVENTORY_CHANGED, cmd.sku, ev, trace_headers)

    async def _publish_component_levels(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        cmd: InventoryCommand,
        result: KitApplied,
        meta: dict[str, str | None],
    ) -> None:
        """The levels of every component the kit script looked at, with the position of the
        component's own last command and its kit offsets, so a rebuild knows which kit
        commands they include (docs/decisions/0008-kits-and-rebuild.md). A component with no
        known position of its own is left out: a record without one would cover every command
        on it. After an applied kit command each carries the component's key of it
        (``<kit key>:component:<sku>``), written by the script that moved the component (or
        by a rebuild that found the move in its levels), so a failover that lost the move
        is seen (ADR 0029); a rejected or duplicate one carries none (on one Redis a rejected
        kit writes no component key)."""
        skus = [c["sku"] for c in result.result.get("components") or []]
        skus += list(result.result.get("skipped") or [])
        keyed = result.status == "applied"
        for sku in sorted(set(skus)):
            levels = await self.store.levels(sku, with_position=True)
            if levels is None or levels.partition is None or levels.offset is None:
                continue
            if keyed:
                key = component_key(cmd.idempotency_key, sku)
                levels = levels.model_copy(update={"idempotency_key": key})
            event = InventoryLevelsUpdated(payload=levels, **meta)
            send(out, INVENTORY_LEVELS, sku, event, trace_headers)

    async def _publish_kit_levels(
        self, out: BatchPublisher, trace_headers: Headers, kit: str, meta: dict[str, str | None]
    ) -> None:
        """The kit's own hash after a kit command: its shops' ``seen`` counters, its version
        and the position of its last command (kit.lua keeps ``pos`` on it), so a rebuild
        restores them and knows which kit commands they include (ADR 0008)."""
        levels = await self.store.levels(kit, with_position=True)
        if levels is None or levels.partition is None or levels.offset is None:
            return
        event = InventoryLevelsUpdated(payload=levels, **meta)
        send(out, INVENTORY_LEVELS, kit, event, trace_headers)

    async def _republish_kits(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        moved: set[tuple[str, str]],
        commands: list[tuple[InventoryCommandRequested, Position]],
        index: dict[str, list[str]],
    ) -> None:
        """A component moved: publish the kits it belongs to with their new availability."""
        if not index or self.kits is None:
            return
        cause = commands[-1][0]
        for location in sorted({loc for _, loc in moved}):
            kits = sorted({k for sku, loc in moved if loc == location for k in index.get(sku, [])})
            # components under allocation share out their budgets with their kits (ADR 0040);
            # those whose direct shares moved are published as they move
            publish = functools.partial(self._publish_reshared, out, trace_headers, cause)
            levels = await self.kits.shared_out(kits, location, publish)
            for kit, level in levels.items():
                change = derived_kit_change(kit, location, level, cause.payload)
                ev = InventoryChanged(
                    id=stable_id(change.idempotency_key, "changed"),
                    correlation_id=cause.correlation_id,
                    causation_id=cause.id,
                    source=self.source,
                    payload=change,
                )
                send(out, INVENTORY_CHANGED, kit, ev, trace_headers)

    async def _publish_reshared(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        cause: InventoryCommandRequested,
        reshared: list[str],
    ) -> None:
        """The changes and levels records of SKUs whose shares moved with no stock moved."""
        for sku in reshared:
            snapshot, kit_parts = await self.store.levels_and_kit_parts(sku, with_position=True)
            if snapshot is None:
                continue
            meta = {"correlation_id": cause.correlation_id, "causation_id": cause.id}
            for change in reshared_changes(snapshot, kit_parts):
                ev = InventoryChanged(
                    id=stable_id(change.idempotency_key, "changed"),
                    source=self.source,
                    payload=change,
                    **meta,
                )
                send(out, INVENTORY_CHANGED, sku, ev, trace_headers)
            if snapshot.partition is not None and snapshot.offset is not None:
                event = InventoryLevelsUpdated(payload=snapshot, source=self.source, **meta)
                send(out, INVENTORY_LEVELS, sku, event, trace_headers)

    def _publish(
        self,
        out: BatchPublisher,
        trace_headers: Headers,
        event: InventoryCommandRequested,
        result: Applied,
    ) -> None:
        """The hot path: the change and levels records encoded by hand from what our own
        script returned, not validated again (docs/decisions/0014-adjuster-hot-path.md)."""
        cmd = event.payload
        # A key re-marked by a rebuild only knows the command came before the restored
        # levels, not its first result: nothing to publish again but the levels.
        status = None if result.result.get("restored") else result.result.get("status")
        corr = event.correlation_id
        head = hot_events.envelope(corr, event.id, self.source, event.shop)
        if status == "applied":
            payloads = hot_events.change_payloads(cmd, result.result)
            track_allocation(cmd.sku, payloads[0]["shares"])
            SHARES_MOVED.inc(int(result.result.get("moved") or 0))
            for n, payload in enumerate(payloads):
                event_id, value = hot_events.changed(head, payload, first=n == 0)
                send_raw(
                    out,
                    INVENTORY_CHANGED,
                    cmd.sku,
                    hot_events.CHANGED,
                    event_id,
                    corr,
                    value,
                    trace_headers,
                )
            for served in result.result.get("served") or ():
                rereserved = self._rereserved(event, served)
                send(out, INVENTORY_CHANGED, cmd.sku, rereserved, trace_headers)
        elif status == "rejected":
            OVERSELLS.inc()
            r = result.result
            oversold = OrderOversold(
                id=stable_id(cmd.idempotency_key, "oversold"),
                payload=OversoldLine(
                    sku=cmd.sku,
                    location=cmd.location,
                    requested=cmd.quantity,
                    available=int(r["before"]["available"]),
                    idempotency_key=cmd.idempotency_key,
                    order=cmd.order,
                    tried=r.get("tried") or None,
                    available_at=r.get("available_at") or None,
                    waiting=bool(r.get("waiting")),
                    split=bool(cmd.route and cmd.route.split),
                ),
                correlation_id=corr,
                causation_id=event.id,
                source=self.source,
                shop=event.shop,
            )
            with correlation(corr):  # the span is the batch's, not this command's
                log.warning(
                    "reservation rejected: not enough stock",
                    extra={"sku": cmd.sku, "tried": r.get("tried") or [cmd.location]},
                )
            send(out, INVENTORY_CHANGED, cmd.sku, oversold, trace_headers)
        event_id, value = hot_events.levels(head, result.levels)
        send_raw(
            out, INVENTORY_LEVELS, cmd.sku, hot_events.LEVELS, event_id, corr, value, trace_headers
        )

    def _rereserved(self, event: InventoryCommandRequested, s: dict[str, Any]) -> InventoryChanged:
        """A waiting refused reserve the command's stock served (apply.lua's WAITING LIST):
        a change of its own, with that reserve's key and order line (ADR 0022); a routed
        line's, one per location it was placed at, each with the whole placement (``routed``)
        and the route's locations (``tried``), the first with the usual id (ADR 0031)."""
        routed = s.get("routed") or None
        part = int(s.get("part") or 1)
        change = StockChange(
            sku=event.payload.sku,
            location=s["location"],
            command="reserve",
            idempotency_key=s["key"],
            version=s["version"],
            before=Levels.model_validate(s["before"]),
            after=Levels.model_validate(s["after"]),
            sku_available_before=s["sku_available_before"],
            sku_available_after=s["sku_available_after"],
            order=OrderLineRef.model_validate(s["order"]),
            seen=s.get("seen") or {},
            routed=routed,
            tried=s.get("tried") or None,
            rereserved=True,
        )
        tail = (s["location"],) if part > 1 else ()
        return InventoryChanged(
            id=stable_id(s["key"], "rereserved", *tail),
            correlation_id=event.correlation_id,
            causation_id=event.id,
            source=self.source,
            shop=change.order.shop if change.order else event.shop,
            payload=change,
        )


class BatchTraces:
    """The trace context each output record carries. The batch's span continues the trace
    of the batch's newest command; a record caused by a command of another trace carries
    that command's own context, so every order's trace stays whole from the webhook to the
    Shopify mutation (and its start time, in ``tracestate``, stays its own); a command
    without one gets the batch span's. The batch span links to each other trace once."""

    def __init__(self, batch: Headers) -> None:
        self.batch = batch
        self._trace_id = next((v[3:35] for k, v in batch if k == "traceparent"), b"")
        self._others: dict[bytes, bytes] = {}  # trace id -> the first traceparent seen

    def of(self, headers: Headers | None) -> Headers:
        own = [(k, v) for k, v in headers or () if k in _TRACE_HEADERS]
        parent = next((v for k, v in own if k == "traceparent"), None)
        if parent is None or parent[3:35] == self._trace_id:
            return self.batch
        self._others.setdefault(parent[3:35], parent)
        return own

    def links(self) -> list[trace.SpanContext]:
        """The contexts of the other traces this batch's records carry (well-formed ones)."""
        out = []
        for parent in self._others.values():
            try:
                version, trace_id, span_id, flags = parent.decode("ascii").split("-")[:4]
                ctx = trace.SpanContext(
                    int(trace_id, 16),
                    int(span_id, 16),
                    is_remote=True,
                    trace_flags=trace.TraceFlags(int(flags, 16)),
                )
            except (UnicodeDecodeError, ValueError):
                continue
            if ctx.is_valid and version == "00":
                out.append(ctx)
        return out


_TRACE_HEADERS = frozenset(("traceparent", "tracestate"))


def send(out: BatchPublisher, topic: str, key: str, event: Envelope, trace: Headers) -> None:
    value = encode(event)
    send_raw(out, topic, key, event.type, event.id, event.correlation_id, value, trace)


def send_raw(
    out: BatchPublisher,
    topic: str,
    key: str,
    kind: str,
    event_id: str,
    correlation_id: str,
    value: bytes,
    trace: Headers,
) -> None:
    """The headers every event carries (as ``stocksync_common.kafka.event_headers``), the
    trace context chosen by :class:`BatchTraces`."""
    headers = [
        ("type", kind.encode()),
        ("correlation-id", correlation_id.encode()),
        ("event-id", event_id.encode()),
        *trace,
    ]
    out.send(topic, key, value, headers)
