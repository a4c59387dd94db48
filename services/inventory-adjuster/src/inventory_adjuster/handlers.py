"""Apply inventory commands and publish what changed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import Counter, Gauge

from inventory_adjuster.adapters.kits import KIT_COMMANDS, KitApplied, KitStore
from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
from inventory_adjuster.kit_events import component_changes, derived_kit_change
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    InventoryChanged,
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    Levels,
    OrderOversold,
    OversoldLine,
    StockChange,
    stable_id,
)
from stocksync_common.kafka import send_event
from stocksync_common.retry import origin_of
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_LEVELS

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


def track_allocation(change: StockChange) -> None:
    """Keep ``stocksync_allocation_skus`` current (per process: partitions it applies)."""
    if change.shares is not None:
        _allocated.add(change.sku)
    else:
        _allocated.discard(change.sku)
    ALLOCATION_SKUS.set(len(_allocated))


@dataclass
class CommandHandler:
    store: RedisInventory
    producer: AIOKafkaProducer
    kits: KitStore | None = None
    source: str = "inventory-adjuster"

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        commands: list[tuple[InventoryCommandRequested, Position]] = []
        for item in items:
            if not isinstance(item.event, InventoryCommandRequested):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {tp.topic}")
            # A command from the group's retry topic (a retry or a DLQ replay) keeps the
            # position it had in the commands topic: that is what rebuild reads.
            origin = origin_of(tp.topic, tp.partition, item.record.offset, item.record.headers)
            pos = Position(origin.topic, origin.partition, origin.offset)
            commands.append((item.event, pos))
        results = await self._apply(commands)
        futures = []
        moved: set[tuple[str, str]] = set()
        for item, (event, _), result in zip(items, commands, results, strict=True):
            if isinstance(result, Invalid):
                raise PoisonMessage(result.reason)
            with handling(item, f"inventory-adjuster {event.payload.command}"):
                if isinstance(result, KitApplied):
                    futures.extend(await self._publish_kit(event, result))
                else:
                    futures.extend(await self._publish(event, result))
                    await self._after_configure(event.payload, result)
            moved.update(self._moved(event.payload, result))
        futures.extend(await self._republish_kits(moved, commands))
        await asyncio.gather(*futures)

    async def _apply(
        self, commands: list[tuple[InventoryCommandRequested, Position]]
    ) -> list[Applied | KitApplied | Invalid]:
        """Plain commands in pipelined runs; kit commands one by one, in order."""
        kit_skus = sorted({e.payload.sku for e, _ in commands if e.payload.command in KIT_COMMANDS})
        defs = await self.kits.definitions(kit_skus) if self.kits else {}
        results: list[Applied | KitApplied | Invalid] = []
        run: list[tuple[InventoryCommand, Position]] = []
        for event, pos in commands:
            cmd = event.payload
            if cmd.command in KIT_COMMANDS and cmd.sku in defs and self.kits is not None:
                results.extend(await self.store.apply_many(run))
                run = []
                results.append(await self.kits.apply(cmd, pos, defs[cmd.sku]))
            else:
                run.append((cmd, pos))
        results.extend(await self.store.apply_many(run))
        return results

    @staticmethod
    def _moved(
        cmd: InventoryCommand, result: Applied | KitApplied | Invalid
    ) -> list[tuple[str, str]]:
        if isinstance(result, KitApplied) and result.status == "applied":
            return [(c["sku"], cmd.location) for c in result.result.get("components", [])]
        if isinstance(result, Applied) and result.result.get("status") == "applied":
            return [(cmd.sku, cmd.location)]
        return []

    async def _after_configure(self, cmd: InventoryCommand, result: Applied) -> None:
        components = cmd.config.kit_components if cmd.config else None
        if components and self.kits and result.result.get("status") == "applied":
            await self.kits.define(cmd.sku, components)

    async def _publish_kit(
        self, event: InventoryCommandRequested, result: KitApplied
    ) -> list[asyncio.Future[RecordMetadata]]:
        cmd = event.payload
        COMMANDS_APPLIED.labels(cmd.command, result.status).inc()
        meta = {
            "correlation_id": event.correlation_id,
            "causation_id": event.id,
            "source": self.source,
            "shop": event.shop,
        }
        out = []
        status = result.result.get("status")
        if status == "applied":
            for change in component_changes(cmd, result):
                ev = InventoryChanged(
                    id=stable_id(change.idempotency_key, "changed"), payload=change, **meta
                )
                out.append(await send_event(self.producer, INVENTORY_CHANGED, change.sku, ev))
        if status in ("applied", "rejected", "duplicate"):
            out.extend(await self._publish_component_levels(result, meta))
        if status == "rejected":
            OVERSELLS.inc()
            line = OversoldLine(
                sku=cmd.sku,
                location=cmd.location,
                requested=cmd.quantity,
                available=0,
                idempotency_key=cmd.idempotency_key,
                order=cmd.order,
            )
            oversold = OrderOversold(
                id=stable_id(cmd.idempotency_key, "oversold"), payload=line, **meta
            )
            out.append(await send_event(self.producer, INVENTORY_CHANGED, cmd.sku, oversold))
        return out

    async def _publish_component_levels(
        self, result: KitApplied, meta: dict[str, str | None]
    ) -> list[asyncio.Future[RecordMetadata]]:
        """The levels of every component the kit script looked at, with the position of the
        component's own last command and its kit offsets, so a rebuild knows which kit
        commands they include (docs/decisions/0008-kits-and-rebuild.md). A component with no
        known position of its own is left out: a record without one would cover every command
        on it."""
        skus = [c["sku"] for c in result.result.get("components") or []]
        skus += list(result.result.get("skipped") or [])
        out = []
        for sku in sorted(set(skus)):
            levels = await self.store.levels(sku, with_position=True)
            if levels is None or levels.partition is None or levels.offset is None:
                continue
            event = InventoryLevelsUpdated(payload=levels, **meta)
            out.append(await send_event(self.producer, INVENTORY_LEVELS, sku, event))
        return out

    async def _republish_kits(
        self,
        moved: set[tuple[str, str]],
        commands: list[tuple[InventoryCommandRequested, Position]],
    ) -> list[asyncio.Future[RecordMetadata]]:
        """A component moved: publish the kits it belongs to with their new availability."""
        if not moved or self.kits is None:
            return []
        index = await self.kits.kits_of(sorted({sku for sku, _ in moved}))
        if not index:
            return []
        cause = commands[-1][0]
        out = []
        for location in sorted({loc for _, loc in moved}):
            kits = sorted({k for sku, loc in moved if loc == location for k in index.get(sku, [])})
            for kit, (available, version) in (await self.kits.availability(kits, location)).items():
                change = derived_kit_change(kit, location, available, version, cause.payload)
                ev = InventoryChanged(
                    id=stable_id(change.idempotency_key, "changed"),
                    correlation_id=cause.correlation_id,
                    causation_id=cause.id,
                    source=self.source,
                    payload=change,
                )
                out.append(await send_event(self.producer, INVENTORY_CHANGED, kit, ev))
        return out

    async def _publish(
        self, event: InventoryCommandRequested, result: Applied
    ) -> list[asyncio.Future[RecordMetadata]]:
        cmd = event.payload
        COMMANDS_APPLIED.labels(cmd.command, result.status).inc()
        # A key re-marked by a rebuild only knows the command came before the restored
        # levels, not its first result: nothing to publish again but the levels.
        status = None if result.result.get("restored") else result.result.get("status")
        common = {"correlation_id": event.correlation_id, "causation_id": event.id}
        common_src = {**common, "source": self.source, "shop": event.shop}
        out = []
        if status == "applied":
            change = InventoryChanged(
                id=stable_id(cmd.idempotency_key, "changed"),
                payload=stock_change(cmd, result),
                **common_src,
            )
            track_allocation(change.payload)
            SHARES_MOVED.inc(int(result.result.get("moved") or 0))
            out.append(await send_event(self.producer, INVENTORY_CHANGED, cmd.sku, change))
        elif status == "rejected":
            OVERSELLS.inc()
            oversold = OrderOversold(
                id=stable_id(cmd.idempotency_key, "oversold"),
                payload=OversoldLine(
                    sku=cmd.sku,
                    location=cmd.location,
                    requested=cmd.quantity,
                    available=int(result.result["before"]["available"]),
                    idempotency_key=cmd.idempotency_key,
                    order=cmd.order,
                ),
                **common_src,
            )
            log.warning("reservation rejected: not enough stock", extra={"sku": cmd.sku})
            out.append(await send_event(self.producer, INVENTORY_CHANGED, cmd.sku, oversold))
        levels = InventoryLevelsUpdated(payload=result.levels, **common_src)
        out.append(await send_event(self.producer, INVENTORY_LEVELS, cmd.sku, levels))
        return out


def stock_change(cmd: InventoryCommand, result: Applied) -> StockChange:
    r = result.result
    return StockChange(
        sku=cmd.sku,
        location=cmd.location,
        command=cmd.command,
        idempotency_key=cmd.idempotency_key,
        version=int(r["version"]),
        before=Levels.model_validate(r["before"]),
        after=Levels.model_validate(r["after"]),
        sku_available_before=int(r["sku_available_before"]),
        sku_available_after=int(r["sku_available_after"]),
        order=cmd.order,
        backordered=bool(r.get("backordered")),
        shares=r.get("shares") or None,
        seen=r.get("seen"),
    )
