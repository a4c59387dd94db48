"""Facts about an order that arrive once, by id: a fulfillment, a refund, an order edit.

Each applies at most once per order (its id is remembered), whether it came in its own
webhook (fulfillments/create, refunds/create, orders/edited) or inside an order snapshot.

- A fulfillment that shipped (status ``success``) commits the shipped units: ``commit`` up to
  what the line holds, ``adjust`` -n for units shipped beyond it (never eating into other
  orders' reservations); from another location than the reservation's: ``release`` the hold
  and ``adjust`` -n where it shipped from. Shipped from a WMS-run location: no stock moves
  (wms-connector committed the units from the warehouse's shipment event).
- A fulfillment cancelled after it shipped (``fulfillments/update``, or a snapshot's
  fulfillment, with status ``cancelled``; fact ``fulfillment:{id}:cancelled``) is undone
  once, from what the shipment recorded: each line's shipped units are open again, back on
  hand where they left (``adjust`` +n; not at a WMS-run location, whose warehouse reports
  its own stock) and reserved again by the settle step (none once the order is cancelled).
  A routed line's ``adjust`` names the shipment's ``commit`` (``undoes``): the adjuster puts
  the units back where that commit took them, the line's own locations (ADR 0031).
  A cancellation seen before its shipment makes that shipment move nothing
  (docs/decisions/0022-residual-order-edge-cases.md, b).
- A refund line, by ``restock_type``: ``cancel`` removes unshipped units (released by the
  settle step); ``return`` puts shipped units back (``adjust`` +n at the restock location);
  ``no_restock`` moves no stock, but units it removed before shipping are no longer held;
  ``legacy_restock`` is a return for the shipped part and a cancel for the rest.
  ``no_restock`` and ``legacy_restock`` do not say whether units had shipped: open units are
  taken first.
- An edit adds or removes wanted units, unless a snapshot at or after its commit time was
  already applied (that snapshot's ``current_quantity`` includes it).
"""

from __future__ import annotations

from order_consumer.domain.keys import command_key
from order_consumer.domain.payloads import Fulfillment, OrderEditPayload, Refund, RefundLine
from order_consumer.domain.state import LineState
from order_consumer.domain.step import Step
from stocksync_common.events import (
    OrderEdit,
    OrderEdited,
    OrderFulfilled,
    OrderFulfillmentCancelled,
    OrderLineQuantity,
    OrderRefund,
    OrderRefunded,
    Shipment,
)

RESTOCK_SHIPPED = frozenset({"return", "legacy_restock"})
FULFILLED = str(OrderFulfilled.model_fields["type"].default)


def apply_fulfillment(step: Step, f: Fulfillment, default_location: str) -> bool:
    """Commit what a shipped fulfillment took off the shelf; False if nothing to apply."""
    fact = f"fulfillment:{f.id}"
    if fact in step.state.facts or f"{fact}:cancelled" in step.state.facts or not f.shipped:
        return False
    where = step.location(f.location_id)
    lines = []
    for item in f.line_items:
        line = step.line(item, default_location)
        line.shipped += item.quantity
        ship(step, line, item.quantity, where, fact)
        lines.append(
            OrderLineQuantity(
                line_id=line.line_id,
                sku=line.sku,
                quantity=item.quantity,
                location=where or line.location,
            )
        )
    s = step.state
    shipment = Shipment(
        shop=s.shop,
        order_id=s.order_id,
        fulfillment_id=f.id,
        location=where,
        tracking_numbers=f.tracking_numbers,
        lines=lines,
    )
    step.notice(OrderFulfilled, shipment, fact)
    return True


def cancel_fulfillment(step: Step, f: Fulfillment) -> bool:
    """Undo a shipment Shopify cancelled; True also when it never shipped here (the
    cancellation is remembered so a late delivery of the shipment moves nothing).
    ``order.fulfillment_cancelled`` lists the units open again (ADR 0031)."""
    shipment_fact = f"fulfillment:{f.id}"
    record = step.state.facts.get(shipment_fact)
    if not f.cancelled or f"{shipment_fact}:cancelled" in step.state.facts:
        return False
    shipments = [n for n in record.notices if n.type == FULFILLED] if record else []
    undone: list[OrderLineQuantity] = []
    for notice in shipments:
        shipment = Shipment.model_validate(notice.payload)
        for shipped in shipment.lines:
            line = step.state.lines.get(shipped.line_id)
            if line is not None:
                undone.append(undo_shipped(step, line, shipped.quantity, shipment, shipment_fact))
    s = step.state
    cancelled = Shipment(shop=s.shop, order_id=s.order_id, fulfillment_id=f.id, lines=undone)
    step.notice(OrderFulfillmentCancelled, cancelled, f"{shipment_fact}:cancelled")
    return True


def undo_shipped(
    step: Step, line: LineState, quantity: int, shipment: Shipment, shipment_fact: str
) -> OrderLineQuantity:
    """One line's shipped units open again and back on hand where they left: the line's
    part of the cancellation (its ``location``: where they came back, None when the
    warehouse or, routed, the adjuster places them)."""
    units = min(quantity, line.shipped)
    line.shipped -= units
    where = shipment.location or line.location
    s = step.state
    part = OrderLineQuantity(line_id=line.line_id, sku=line.sku, quantity=units)
    if where in step.wms_locations or (
        s.route is not None and line.routed and set(line.routed) <= step.wms_locations
    ):
        return part  # the warehouse reports its own stock
    # routed: the adjuster puts them back where the shipment's commit took them (ADR 0031)
    undoes = None
    if s.route is not None:
        undoes = command_key(s.shop, s.order_id, line.line_id, "commit", shipment_fact)
    step.command(line, "adjust", units, f"{shipment_fact}:cancelled", location=where, undoes=undoes)
    return part if undoes else part.model_copy(update={"location": where})


def ship(step: Step, line: LineState, quantity: int, where: str | None, fact: str) -> None:
    held = min(quantity, line.reserved)
    line.reserved -= held
    if (where or line.location) in step.wms_locations:
        # The warehouse's own shipment event already committed these units.
        return
    if step.state.route is not None:
        # Routed (ADR 0018): the adjuster commits the units where the line holds them
        # (where it shipped from first) and takes units beyond the hold off on-hand there.
        # A line placed only at warehouse-run locations went to the WMS, whose shipment
        # commits it, wherever Shopify's fulfilment says it shipped from.
        if line.routed and set(line.routed) <= step.wms_locations:
            return
        step.command(line, "commit", quantity, fact, location=where)
        return
    if where is None or where == line.location:
        step.command(line, "commit", held, fact)
        step.command(line, "adjust", held - quantity, fact)
    else:
        step.command(line, "release", held, fact, detail="relocated")
        step.command(line, "adjust", -quantity, fact, location=where)


def apply_refund(step: Step, refund: Refund, default_location: str) -> bool:
    fact = f"refund:{refund.id}"
    if fact in step.state.facts:
        return False
    lines = []
    for rl in refund.refund_line_items:
        kind = refund.restock_type(rl)
        line = step.state.lines.get(rl.line_item_id)
        if line is None and rl.line_item is not None:
            line = step.line(rl.line_item, default_location)
        where = step.location(rl.location_id)
        if line is not None:
            refund_line(step, line, rl, kind, where, fact)
        lines.append(
            OrderLineQuantity(
                line_id=rl.line_item_id,
                sku=line.sku if line else None,
                quantity=rl.quantity,
                location=where,
                restock_type=kind,
            )
        )
    s = step.state
    step.notice(
        OrderRefunded,
        OrderRefund(shop=s.shop, order_id=s.order_id, refund_id=refund.id, lines=lines),
        fact,
    )
    return True


def refund_line(
    step: Step, line: LineState, rl: RefundLine, kind: str, where: str | None, fact: str
) -> None:
    if kind == "return":
        shipped = rl.quantity
    elif kind == "cancel":
        shipped = 0
    else:  # no_restock, legacy_restock, or a value we do not know: open units first
        shipped = max(0, rl.quantity - line.open)
    line.refunded_shipped += shipped
    line.refunded_unshipped += rl.quantity - shipped
    if kind in RESTOCK_SHIPPED and shipped:
        line.returned += shipped
        step.command(line, "adjust", shipped, fact, location=where, detail=rl.id)


def apply_edit(step: Step, edit: OrderEditPayload) -> list[OrderLineQuantity]:
    """Move the wanted units of the edited lines; the changes as the edit stated them."""
    s = step.state
    reflected = bool(s.snapshot_at and edit.at and edit.at <= s.snapshot_at)
    changes = [(c, c.delta) for c in edit.line_items.additions]
    changes += [(c, -c.delta) for c in edit.line_items.removals]
    out = []
    for change, delta in changes:
        line = s.lines.get(change.id)
        out.append(
            OrderLineQuantity(line_id=change.id, sku=line.sku if line else None, quantity=delta)
        )
        # A line the edit added is unknown here (the edit names no variant): the
        # orders/updated Shopify sends with every edit brings it, with its SKU.
        if line is not None and line.confirmed and not reflected:
            line.wanted = max(0, line.wanted + delta)
    if edit.at is not None and (s.as_of is None or edit.at > s.as_of):
        s.as_of = edit.at
    return out


def edited_notice(
    step: Step, fact: str, edit_id: str | None, lines: list[OrderLineQuantity]
) -> None:
    s = step.state
    payload = OrderEdit(
        shop=s.shop, order_id=s.order_id, revision=fact, edit_id=edit_id, lines=lines
    )
    step.notice(OrderEdited, payload, fact)
