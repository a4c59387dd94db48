"""Fulfillment orders moved to where routing placed the units (ADR 0035), the pure part.

Shopify assigns each order line's units to a location of its own choosing (its fulfillment
orders); a routed store's lines are placed by StockSync's routing (ADR 0018), which
``order.routed`` reports per line and location. Where the two differ, the units Shopify put
at a location routing did not choose (a surplus there) are moved to the locations routing
chose and Shopify did not (a deficit), line by line, in the order routing listed them. Only
unfulfilled units of open fulfillment orders move; units routing refused stay where Shopify
put them. Planned from what Shopify shows now, so a plan made again after the moves (a
redelivered event) is empty.

A fulfillment order awaiting a fulfillment service (its ``requestStatus`` one of
:data:`HELD_BY_SERVICE`) cannot be moved: Shopify refuses it. Its units count where they
are, are taken only after those that may move, and a move planned from it is marked
``held`` (the mover does not send it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MOVABLE = frozenset({"OPEN", "IN_PROGRESS"})  # IN_PROGRESS: partly fulfilled
# "You can't change the assigned location while a fulfillment order has a request status of
# SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED, or CANCELLATION_REJECTED" (fulfillmentOrderMove)
HELD_BY_SERVICE = frozenset(
    {"SUBMITTED", "ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"}
)


@dataclass
class Move:
    """One ``fulfillmentOrderMove``: these lines (id -> units) of a fulfillment order to a
    location."""

    fulfillment_order: str
    location: str
    lines: dict[str, int] = field(default_factory=dict)
    held: str | None = None  # the request status a fulfillment service holds it with: not sent

    def variables(self) -> dict[str, Any]:
        items = [{"id": line, "quantity": n} for line, n in self.lines.items()]
        return {
            "id": self.fulfillment_order,
            "newLocationId": self.location,
            "fulfillmentOrderLineItems": items,
        }


@dataclass(frozen=True)
class Held:
    fulfillment_order: str
    line: str  # the fulfillment order line's id
    location: str
    units: int
    by_service: str | None = None  # as Move.held


def held_units(fulfillment_orders: list[dict[str, Any]]) -> dict[str, list[Held]]:
    """Per order line (its gid), the unfulfilled units of movable fulfillment orders."""
    out: dict[str, list[Held]] = {}
    for fo in fulfillment_orders:
        if fo.get("status") not in MOVABLE:
            continue
        location = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
        request = fo.get("requestStatus")
        by_service = str(request) if request in HELD_BY_SERVICE else None
        for line in (fo.get("lineItems") or {}).get("nodes") or []:
            order_line = (line.get("lineItem") or {}).get("id")
            units = int(line.get("remainingQuantity") or 0)
            if location and order_line and units > 0:
                held = Held(str(fo["id"]), str(line["id"]), str(location), units, by_service)
                out.setdefault(str(order_line), []).append(held)
    for parts in out.values():
        parts.sort(key=lambda h: h.by_service is not None)  # those that may move first
    return out


def plan_moves(
    fulfillment_orders: list[dict[str, Any]], wanted: Mapping[str, Mapping[str, int]]
) -> list[Move]:
    """``wanted``: per order line gid, the units routing placed per Shopify location gid."""
    held = held_units(fulfillment_orders)
    moves: dict[tuple[str, str], Move] = {}
    for order_line, places in wanted.items():
        parts = held.get(order_line, [])
        have: dict[str, int] = {}
        for h in parts:
            have[h.location] = have.get(h.location, 0) + h.units
        spare = {loc: n - places.get(loc, 0) for loc, n in have.items()}
        free = [h.units for h in parts]
        for dest, units in places.items():
            need = units - have.get(dest, 0)
            for i, h in enumerate(parts):
                take = min(need, free[i], spare[h.location])
                if take <= 0:
                    continue
                move = moves.setdefault(
                    (h.fulfillment_order, dest), Move(h.fulfillment_order, dest, held=h.by_service)
                )
                move.lines[h.line] = move.lines.get(h.line, 0) + take
                free[i] -= take
                spare[h.location] -= take
                need -= take
    return list(moves.values())
