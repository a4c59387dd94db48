"""WMS events to inventory commands (and a shipment to the order's fulfilment fact).

Receipts and adjustments move on-hand by a delta; a cycle count sets it as of the count's
time (inventory-adjuster adds the on-hand moves applied after that time and keeps every
reservation); a shipment commits what left the building. Every key derives from the WMS
event id, so a redelivered event changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from stocksync_common.events import (
    CommandName,
    InventoryCommand,
    OrderLineQuantity,
    OrderLineRef,
    Route,
    WarehouseShipment,
    WmsEvent,
)
from wms_connector.domain.refs import parse_ref

COMMAND_FOR: dict[str, CommandName] = {
    "receipt": "adjust",
    "adjustment": "adjust",
    "cycle_count": "set_on_hand",
    "shipment": "commit",
}


def _order_of(event: WmsEvent) -> OrderLineRef | None:
    parsed = parse_ref(event.order_id) if event.order_id else None
    return OrderLineRef(shop=parsed[0], order_id=parsed[1]) if parsed else None


def commands_for(
    event: WmsEvent, routed: Mapping[tuple[str, str], str] | None = None
) -> list[InventoryCommand]:
    """Receipts and adjustments move on-hand by a delta; counts set it; shipments commit.

    ``routed``: a routed order's line id per (SKU, location) it was sent to the WMS with
    (``order.routed``); the shipment of such a line is a routed ``commit`` at the location
    it left, so the line's hold there goes down with it (docs/decisions/0018-order-routing.md).
    """
    command = COMMAND_FOR[event.event_type]
    order = _order_of(event) if event.event_type == "shipment" else None
    out = []
    for i, line in enumerate(event.lines):
        qty = line.quantity
        if event.event_type in ("receipt", "shipment"):
            qty = abs(qty)
        line_id = (routed or {}).get((line.sku, line.location))
        line_order = order
        if order is not None and line_id is not None:
            line_order = order.model_copy(update={"line_id": line_id})
        out.append(
            InventoryCommand(
                command=command,
                idempotency_key=f"wms:{event.event_id}:line:{i}:{command}",
                sku=line.sku,
                location=line.location,
                quantity=qty,
                as_of=event.occurred_at if command == "set_on_hand" else None,
                order=line_order,
                reason=f"wms {event.event_type}",
                route=None if line_order is order else Route(locations=[line.location]),
            )
        )
    return out


def shipment_of(event: WmsEvent) -> WarehouseShipment | None:
    """The fulfilment fact of a shipment of one of our orders; None otherwise."""
    if event.event_type != "shipment" or not event.order_id:
        return None
    parsed = parse_ref(event.order_id)
    if parsed is None:
        return None
    shop, order_id = parsed
    lines = [
        OrderLineQuantity(
            line_id=str(i), sku=ln.sku, quantity=abs(ln.quantity), location=ln.location
        )
        for i, ln in enumerate(event.lines)
    ]
    return WarehouseShipment(
        shop=shop,
        order_id=order_id,
        shipment_id=event.event_id,
        lines=lines,
        tracking_number=event.tracking_number,
        carrier=event.carrier,
        shipped_at=event.occurred_at,
    )
