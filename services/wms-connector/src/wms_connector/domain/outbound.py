"""Orders to WMS fulfilment orders: what to send, and what to do on a cancellation."""

from __future__ import annotations

from typing import Any, Literal

from stocksync_common.events import Order
from wms_connector.domain.refs import follow_up_ref, order_ref

OrderStatus = Literal["created", "cancelled"]
CancelStep = Literal["cancel_at_wms", "remember_only", "nothing"]


def fulfilment_request(order: Order) -> dict[str, Any] | None:
    """The WMS create body for an order's mapped lines; None when nothing can be shipped."""
    lines: dict[tuple[str, str], int] = {}
    for line in order.lines:
        if line.sku is None or line.quantity <= 0:
            continue
        place = (line.sku, line.location)
        lines[place] = lines.get(place, 0) + line.quantity
    if not lines:
        return None
    return {
        "external_ref": order_ref(order.shop, order.order_id)
        if order.follow_up is None
        else follow_up_ref(order.shop, order.order_id, order.follow_up),
        "shop": order.shop,
        "order_id": order.order_id,
        "lines": [
            {"sku": sku, "location": location, "quantity": qty}
            for (sku, location), qty in sorted(lines.items())
        ],
    }


def should_create(status: OrderStatus | None) -> bool:
    """Create at the WMS unless we already did, or the order was cancelled first."""
    return status is None


def cancel_step(status: OrderStatus | None) -> CancelStep:
    """A created order is cancelled at the WMS; an unknown one is only remembered as
    cancelled (so a late create never sends it); a cancelled one needs nothing."""
    if status == "created":
        return "cancel_at_wms"
    if status is None:
        return "remember_only"
    return "nothing"
