"""``fulfillmentOrderMove``, as the Admin API documents it: the unfulfilled units of a
fulfillment order's lines (all of them, or ``fulfillmentOrderLineItems`` with quantities)
reassigned to another location of the store.

- All unfulfilled units of a fulfillment order none of whose units was fulfilled: the
  fulfillment order itself moves (its ``assignedLocation`` changes; moved == original).
- Otherwise a new fulfillment order at the destination holds the moved units and the
  original keeps the rest (CLOSED when it has none left to fulfil).
- The order's committed units move with them: committed and available change at both
  locations (``on_hand`` stays at each).
- Refused, all or nothing, with user errors: an unknown fulfillment order; a closed one; one
  with progress reported (code ``CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS``); one
  whose request status is SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED or
  CANCELLATION_REJECTED (awaiting a fulfillment service; no code); an unknown destination;
  the location it is already assigned to; a destination that has never stocked an item
  moved; an unknown line or a quantity that is not 1..remaining.
"""

from __future__ import annotations

from typing import Any

from stocksync_sim.shopify.executor import Call, GqlObject
from stocksync_sim.shopify.fulfillment import (
    AWAITING_SERVICE,
    OPEN_STATUSES,
    FoLine,
    FulfillmentOrder,
    SimOrder,
    find_fulfillment_order,
    fulfillment_order_object,
)
from stocksync_sim.shopify.state import StoreState, gid

REPORTED_PROGRESS = "CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS"


def _error(field_path: list[str], message: str, code: str | None = None) -> GqlObject:
    return GqlObject(
        "FulfillmentOrderMoveFulfillmentOrderMoveUserError",
        {"field": field_path, "message": message, "code": code},
        cost=0,
    )


def _payload(
    store: StoreState,
    moved: FulfillmentOrder | None,
    original: FulfillmentOrder | None,
    errors: list[GqlObject],
) -> GqlObject:
    def obj(fo: FulfillmentOrder | None) -> GqlObject | None:
        return fulfillment_order_object(store, fo) if fo else None

    return GqlObject(
        "FulfillmentOrderMovePayload",
        {
            "movedFulfillmentOrder": obj(moved),
            "originalFulfillmentOrder": obj(original),
            "remainingFulfillmentOrder": None,
            "userErrors": errors,
        },
        cost=0,
    )


def _picks(
    fo: FulfillmentOrder, wanted: list[dict[str, Any]] | None
) -> tuple[list[tuple[FoLine, int]], list[GqlObject]]:
    if wanted is None:
        return [(line, line.remaining) for line in fo.lines if line.remaining > 0], []
    by_id = {gid("FulfillmentOrderLineItem", line.number): line for line in fo.lines}
    picks, errors = [], []
    for i, item in enumerate(wanted):
        line, qty = by_id.get(str(item.get("id"))), item.get("quantity")
        if line is None or not isinstance(qty, int) or not 0 < qty <= line.remaining:
            where = ["fulfillmentOrderLineItems", str(i)]
            errors.append(_error(where, "Invalid fulfillment order line item quantity."))
        else:
            picks.append((line, qty))
    return picks, errors


def _refusals(
    store: StoreState, fo: FulfillmentOrder, dest: object, picks: list[tuple[FoLine, int]]
) -> list[GqlObject]:
    if fo.status not in OPEN_STATUSES:
        return [_error(["id"], "Fulfillment order is not in a movable state.")]
    if fo.progress_reported:
        message = "Cannot move a fulfillment order that has progress reported."
        return [_error(["id"], message, REPORTED_PROGRESS)]
    if fo.request_status in AWAITING_SERVICE:
        return [_error(["id"], "You can't change the assigned location while a fulfillment "
                       f"order has a request status of {fo.request_status}.")]  # fmt: skip
    if not isinstance(dest, str) or dest not in store.locations:
        return [_error(["newLocationId"], "Location could not be found.")]
    if dest == fo.location_id:
        return [_error(["newLocationId"], "Fulfillment order is already assigned to it.")]
    if not picks:
        return [_error(["id"], "There are no line items to move.")]
    return [
        _error(["newLocationId"], f"The location does not stock {line.product.sku}.")
        for line, _ in picks
        if dest not in line.product.levels
    ]


def _move_committed(fo: FulfillmentOrder, dest: str, picks: list[tuple[FoLine, int]]) -> None:
    for line, qty in picks:
        source = line.product.levels.get(fo.location_id)
        if source is not None:
            source.committed -= qty
            source.available += qty
        target = line.product.levels[dest]
        target.committed += qty
        target.available -= qty


def fulfillment_order_move(store: StoreState, call: Call) -> GqlObject:
    """``fulfillmentOrderMove(id:, newLocationId:, fulfillmentOrderLineItems:)``."""
    found = find_fulfillment_order(store, call.args.get("id"))
    if found is None:
        return _payload(store, None, None, [_error(["id"], "Fulfillment order does not exist.")])
    order, fo = found
    dest = call.args.get("newLocationId")
    picks, errors = _picks(fo, call.args.get("fulfillmentOrderLineItems"))
    errors = errors or _refusals(store, fo, dest, picks)
    if errors:
        return _payload(store, None, fo, errors)
    assert isinstance(dest, str)  # noqa: S101 - checked by _refusals
    _move_committed(fo, dest, picks)
    moved_units = {id(line): qty for line, qty in picks}
    untouched = all(line.remaining == line.total for line in fo.lines)
    whole = all(moved_units.get(id(line), 0) == line.remaining for line in fo.lines)
    if untouched and whole:
        fo.location_id = dest
        return _payload(store, fo, fo, [])
    moved = _split(store, order, fo, dest, picks)
    return _payload(store, moved, fo, [])


def _split(
    store: StoreState,
    order: SimOrder,
    fo: FulfillmentOrder,
    dest: str,
    picks: list[tuple[FoLine, int]],
) -> FulfillmentOrder:
    lines = []
    for line, qty in picks:
        line.total -= qty
        line.remaining -= qty
        lines.append(FoLine(store.next_id(), line.line_item_id, line.product, qty, qty))
    fo.lines = [line for line in fo.lines if line.total > 0]
    if sum(line.remaining for line in fo.lines) == 0:
        fo.status = "CLOSED"
    moved = FulfillmentOrder(store.next_id(), fo.order_id, dest, lines)
    order.fulfillment_orders.append(moved)
    return moved
