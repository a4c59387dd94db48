"""Apply inventory commands and publish what changed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import Counter

from inventory_adjuster.adapters.redis_store import Applied, Invalid, Position, RedisInventory
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


@dataclass
class CommandHandler:
    store: RedisInventory
    producer: AIOKafkaProducer
    source: str = "inventory-adjuster"

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        commands: list[tuple[InventoryCommandRequested, Position]] = []
        for item in items:
            if not isinstance(item.event, InventoryCommandRequested):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {tp.topic}")
            pos = Position(tp.topic, tp.partition, item.record.offset)
            commands.append((item.event, pos))
        results = await self.store.apply_many([(e.payload, p) for e, p in commands])
        futures = []
        for item, (event, _), result in zip(items, commands, results, strict=True):
            if isinstance(result, Invalid):
                raise PoisonMessage(result.reason)
            with handling(item, f"inventory-adjuster {event.payload.command}"):
                futures.extend(await self._publish(event, result))
        await asyncio.gather(*futures)

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
    )
