"""Orders' fulfillment orders and ``fulfillmentCreate``, as the Admin API models them.

A placed order gets one fulfillment order per location it was allocated from, each line
with its ``totalQuantity`` and ``remainingQuantity``. ``fulfillmentCreate`` fulfils lines
of open fulfillment orders (all remaining units when a fulfillment order lists no lines),
records tracking, and moves the shipped units out of ``committed`` (on-hand drops).
A fulfillment order with nothing left is CLOSED; partly fulfilled, IN_PROGRESS.
``fulfillmentOrderMove`` is in :mod:`stocksync_sim.shopify.fulfillment_move`.

Each fulfillment order answers its ``requestStatus`` (UNSUBMITTED, the only one of a
merchant-managed location's) and may have had progress reported; the control API sets both
(:func:`set_state`), standing in for a fulfillment service's requests and
``fulfillmentOrderReportProgress``/``fulfillmentOrderOpen``, which are not simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.objects import NODE, connection, location_object
from stocksync_sim.shopify.state import Product, StoreState, gid

OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
# FulfillmentOrderRequestStatus; the four Shopify names as awaiting a fulfillment service
RequestStatus = Literal[
    "UNSUBMITTED",
    "SUBMITTED",
    "ACCEPTED",
    "REJECTED",
    "CANCELLATION_REQUESTED",
    "CANCELLATION_ACCEPTED",
    "CANCELLATION_REJECTED",
    "CLOSED",
]
AWAITING_SERVICE = frozenset(
    {"SUBMITTED", "ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"}
)


@dataclass
class FoLine:
    number: int
    line_item_id: int
    product: Product
    total: int
    remaining: int


@dataclass
class FulfillmentOrder:
    number: int
    order_id: int
    location_id: str
    lines: list[FoLine]
    status: str = "OPEN"
    request_status: str = "UNSUBMITTED"
    progress_reported: bool = False

    @property
    def id(self) -> str:
        return gid("FulfillmentOrder", self.number)


@dataclass
class Fulfillment:
    number: int
    tracking: dict[str, str | None]
    lines: list[tuple[FoLine, int]]
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))


@dataclass
class SimOrder:
    order_id: int
    name: str
    fulfillment_orders: list[FulfillmentOrder]
    fulfillments: list[Fulfillment] = field(default_factory=list)

    @property
    def id(self) -> str:
        return gid("Order", self.order_id)


def record_order(
    store: StoreState, order_id: int, order_number: int, lines: Sequence[Any]
) -> SimOrder:
    """Keep a placed order with one fulfillment order per allocated location."""
    by_location: dict[str, list[FoLine]] = {}
    for line in lines:
        alloc = line.allocation
        fo_line = FoLine(
            store.next_id(), line.line_item_id, alloc.product, alloc.quantity, alloc.quantity
        )
        by_location.setdefault(alloc.location_id, []).append(fo_line)
    fos = [
        FulfillmentOrder(store.next_id(), order_id, location, fo_lines)
        for location, fo_lines in by_location.items()
    ]
    order = SimOrder(order_id, f"#{order_number}", fos)
    orders: dict[str, SimOrder] = store.orders
    orders[order.id] = order
    return order


def _fo_line_object(line: FoLine) -> GqlObject:
    return GqlObject(
        "FulfillmentOrderLineItem",
        {
            "id": gid("FulfillmentOrderLineItem", line.number),
            "sku": line.product.sku,
            "totalQuantity": line.total,
            "remainingQuantity": line.remaining,
            "inventoryItemId": line.product.inventory_item_id,
            "lineItem": GqlObject("LineItem", {"id": gid("LineItem", line.line_item_id)}, NODE),
        },
        NODE,
    )


def fulfillment_order_object(store: StoreState, fo: FulfillmentOrder) -> GqlObject:
    entries = [(line.number, line) for line in fo.lines]
    assigned = GqlObject(
        "FulfillmentOrderAssignedLocation",
        {"location": location_object(store, fo.location_id), "name": fo.location_id},
    )
    return GqlObject(
        "FulfillmentOrder",
        {
            "id": fo.id,
            "status": fo.status,
            "requestStatus": fo.request_status,
            "orderId": gid("Order", fo.order_id),
            "assignedLocation": assigned,
            "lineItems": Resolve(
                lambda call: connection(
                    "FulfillmentOrderLineItem", entries, _fo_line_object, call.args
                )
            ),
        },
        NODE,
    )


def set_state(
    fo: FulfillmentOrder, request_status: RequestStatus | None, progress_reported: bool | None
) -> str | None:
    """Set what the control API was given; the reason it cannot be, or None. Reporting
    progress makes an open fulfillment order IN_PROGRESS; marking it open again makes it
    OPEN (IN_PROGRESS while some units were fulfilled)."""
    if progress_reported is not None:
        if fo.status not in OPEN_STATUSES:
            return f"fulfillment order is {fo.status}"
        fo.progress_reported = progress_reported
        fulfilled = any(line.remaining < line.total for line in fo.lines)
        fo.status = "IN_PROGRESS" if progress_reported or fulfilled else "OPEN"
    if request_status is not None:
        fo.request_status = request_status
    return None


def _fulfillment_object(f: Fulfillment) -> GqlObject:
    info = GqlObject("FulfillmentTrackingInfo", dict(f.tracking), cost=0)
    return GqlObject(
        "Fulfillment",
        {
            "id": gid("Fulfillment", f.number),
            "status": "SUCCESS",
            "createdAt": f.created_at,
            "totalQuantity": sum(qty for _, qty in f.lines),
            "trackingInfo": Resolve(lambda _call: [info]),
        },
        NODE,
    )


def order_object(store: StoreState, order_gid: object) -> GqlObject | None:
    """``order(id:)``: the order with its fulfillment orders and fulfillments."""
    order = store.orders.get(order_gid) if isinstance(order_gid, str) else None
    if order is None:
        return None
    entries = [(fo.number, fo) for fo in order.fulfillment_orders]
    return GqlObject(
        "Order",
        {
            "id": order.id,
            "name": order.name,
            "legacyResourceId": str(order.order_id),
            "fulfillmentOrders": Resolve(
                lambda call: connection(
                    "FulfillmentOrder",
                    entries,
                    lambda fo: fulfillment_order_object(store, fo),
                    call.args,
                )
            ),
            "fulfillments": Resolve(
                lambda _call: [_fulfillment_object(f) for f in order.fulfillments]
            ),
        },
        NODE,
    )


def fulfillment_order_by_id(store: StoreState, fo_id: object) -> GqlObject | None:
    """``fulfillmentOrder(id:)``: one fulfillment order (its lines paged on from here)."""
    found = find_fulfillment_order(store, fo_id)
    return fulfillment_order_object(store, found[1]) if found else None


def _error(field_path: list[str], message: str) -> GqlObject:
    return GqlObject("UserError", {"field": field_path, "message": message}, cost=0)


def _payload(fulfillment: Fulfillment | None, errors: list[GqlObject]) -> GqlObject:
    return GqlObject(
        "FulfillmentCreatePayload",
        {
            "fulfillment": _fulfillment_object(fulfillment) if fulfillment else None,
            "userErrors": errors,
        },
        cost=0,
    )


def find_fulfillment_order(
    store: StoreState, fo_id: object
) -> tuple[SimOrder, FulfillmentOrder] | None:
    for order in store.orders.values():
        for fo in order.fulfillment_orders:
            if fo.id == fo_id:
                return order, fo
    return None


def _plan(
    store: StoreState, groups: list[dict[str, Any]]
) -> tuple[SimOrder | None, list[tuple[FoLine, int]], list[GqlObject]]:
    """Which lines to fulfil by how much, or the user errors that refuse the whole call."""
    order: SimOrder | None = None
    picks: list[tuple[FoLine, int]] = []
    errors: list[GqlObject] = []
    for i, group in enumerate(groups):
        where = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
        found = find_fulfillment_order(store, group.get("fulfillmentOrderId"))
        if found is None or found[1].status not in OPEN_STATUSES:
            errors.append(_error(where, "Fulfillment order does not exist or is not open."))
            continue
        if order is not None and found[0] is not order:
            errors.append(_error(where, "Fulfillment orders must belong to the same order."))
            continue
        order, fo = found
        wanted = group.get("fulfillmentOrderLineItems")
        if wanted is None:
            picks.extend((line, line.remaining) for line in fo.lines if line.remaining > 0)
            continue
        by_id = {gid("FulfillmentOrderLineItem", line.number): line for line in fo.lines}
        for item in wanted:
            line = by_id.get(item.get("id"))
            qty = item.get("quantity")
            if line is None or not isinstance(qty, int) or not 0 < qty <= line.remaining:
                errors.append(_error(where, "Invalid fulfillment order line item quantity."))
            else:
                picks.append((line, qty))
    if not picks and not errors:
        errors.append(_error(["fulfillment"], "Nothing to fulfill."))
    return order, picks, errors


def fulfillment_create(store: StoreState, call: Call) -> GqlObject:
    """``fulfillmentCreate(fulfillment:)``: all or nothing."""
    spec = call.args.get("fulfillment") or {}
    order, picks, errors = _plan(store, list(spec.get("lineItemsByFulfillmentOrder") or []))
    if errors or order is None:
        return _payload(None, errors)
    for line, qty in picks:
        line.remaining -= qty
    for fo in order.fulfillment_orders:
        if any(line in fo.lines for line, _ in picks):
            left = sum(line.remaining for line in fo.lines)
            fo.status = "CLOSED" if left == 0 else "IN_PROGRESS"
            for line, qty in picks:
                level = line.product.levels.get(fo.location_id)
                if level is not None and line in fo.lines:
                    level.committed = max(0, level.committed - qty)
    tracking = spec.get("trackingInfo") or {}
    info = {
        "number": tracking.get("number"),
        "company": tracking.get("company"),
        "url": tracking.get("url"),
    }
    fulfillment = Fulfillment(store.next_id(), info, picks)
    order.fulfillments.append(fulfillment)
    return _payload(fulfillment, [])
