"""WMS events to inventory commands: pure rules, no I/O."""

from __future__ import annotations

from stocksync_common.events import CommandName, InventoryCommand, WmsEvent

COMMAND_FOR: dict[str, CommandName] = {
    "receipt": "adjust",
    "adjustment": "adjust",
    "cycle_count": "set_on_hand",
    "shipment": "commit",
}


def commands_for(event: WmsEvent) -> list[InventoryCommand]:
    """Receipts and adjustments move on-hand by a delta; counts set it; shipments commit."""
    command = COMMAND_FOR[event.event_type]
    out = []
    for i, line in enumerate(event.lines):
        qty = line.quantity
        if event.event_type == "receipt":
            qty = abs(qty)
        out.append(
            InventoryCommand(
                command=command,
                idempotency_key=f"wms:{event.event_id}:line:{i}:{command}",
                sku=line.sku,
                location=line.location,
                quantity=qty,
                as_of=event.occurred_at if command == "set_on_hand" else None,
                reason=f"wms {event.event_type}",
            )
        )
    return out
