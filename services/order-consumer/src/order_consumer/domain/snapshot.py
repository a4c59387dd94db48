"""A whole-order snapshot: orders/create, updated, cancelled, fulfilled, partially_fulfilled,
paid.

A snapshot is authoritative for what the customer wants: per line ``current_quantity`` plus
the units the snapshot's own refunds took off (refunds are counted apart, by restock type),
so an edit seen only through orders/updated is a diff too. Its fulfillments and refunds
apply as facts, each once by id whatever carried it. A snapshot older than what was applied
(``updated_at`` before the state's ``as_of``) only fills in lines never seen before and
applies its facts. Reservations are then settled: each line holds its open units, or
nothing once the order is cancelled.
"""

from __future__ import annotations

from functools import partial

from order_consumer.domain.facts import (
    apply_fulfillment,
    apply_refund,
    cancel_fulfillment,
    edited_notice,
)
from order_consumer.domain.hooks import SnapshotHook, fulfillment_fact
from order_consumer.domain.payloads import LineItem, OrderSnapshot
from order_consumer.domain.state import OrderState
from order_consumer.domain.step import Step
from stocksync_common.events import (
    Order,
    OrderCancellation,
    OrderCancelled,
    OrderLine,
    OrderLineQuantity,
    OrderReceived,
    Route,
)
from stocksync_common.stores import Store


def apply_snapshot(step: Step, hook: SnapshotHook) -> None:
    """In the order things happened: lines first seen are reserved, the facts the snapshot
    carries apply one by one, then the changed quantities of known lines and a cancellation."""
    order, state = hook.order, step.state
    since = step.mark()
    stale = bool(state.as_of and order.updated_at and order.updated_at < state.as_of)
    cancelling = order.cancelled_at is not None and not state.cancelled and not stale
    location = step.location(order.location_id) or step.store.default_location()
    if not state.received:
        state.route = route_of(step.store)
    new = confirm_new_lines(step, order, location)
    if cancelling:  # reserve nothing new; what the cancellation frees is released by it
        step.held = set(state.lines)
    else:
        step.settle(hook.fact, only=new)
    if not state.received:
        state.received, state.name = True, order.name
        step.notice(OrderReceived, received(state), "received")
    children = [
        f"fulfillment:{f.id}"
        for f in order.fulfillments
        if step.apply_fact(f"fulfillment:{f.id}", partial(apply_fulfillment, step, f, location))
    ]
    children += [  # cancelled after it shipped: undone once (ADR 0022, b)
        fulfillment_fact(f)
        for f in order.fulfillments
        if f.cancelled
        and step.apply_fact(fulfillment_fact(f), partial(cancel_fulfillment, step, f))
    ]
    children += [
        f"refund:{r.id}"
        for r in order.refunds
        if step.apply_fact(f"refund:{r.id}", partial(apply_refund, step, r, location))
    ]
    step.held = set()
    if not stale:
        if order.updated_at and (state.as_of is None or order.updated_at > state.as_of):
            state.as_of = order.updated_at
        state.snapshot_at = order.updated_at or state.snapshot_at
        settle_snapshot(step, hook, update_known_lines(step, order), cancelling)
    step.record(hook.fact, since, children, keep_empty=False)


def confirm_new_lines(step: Step, order: OrderSnapshot, location: str) -> set[str]:
    """Register the lines never seen in a snapshot and take their wanted units; their ids."""
    new = set()
    for item in order.line_items:
        line = step.line(item, location)
        if not line.confirmed:
            line.wanted, line.confirmed = wanted_units(item, order.refunded(item.id)), True
            new.add(line.line_id)
    return new


def update_known_lines(step: Step, order: OrderSnapshot) -> list[OrderLineQuantity]:
    """Take the wanted units of the lines seen before; the changes (edits)."""
    changes = []
    for item in order.line_items:
        line = step.state.lines[item.id]
        wanted = wanted_units(item, order.refunded(item.id))
        if wanted != line.wanted:
            delta = wanted - line.wanted
            changes.append(OrderLineQuantity(line_id=line.line_id, sku=line.sku, quantity=delta))
            line.wanted = wanted
    return changes


def wanted_units(item: LineItem, refunded: int) -> int:
    """Ordered units net of edits: current_quantity excludes refunded and removed units,
    and refunds are counted apart (by restock type), so they are added back."""
    if item.current_quantity is None:  # API versions before 2024-01
        return item.quantity
    return item.current_quantity + refunded


def settle_snapshot(
    step: Step, hook: SnapshotHook, edits: list[OrderLineQuantity], cancelling: bool
) -> None:
    state = step.state
    state.cancelled = state.cancelled or cancelling
    settled = step.settle("cancel" if cancelling else hook.fact)
    if edits:
        edited_notice(step, hook.fact, None, edits)
    if cancelling:
        released = [
            c.model_copy(update={"quantity": -c.quantity}) for c in settled if c.quantity < 0
        ]
        payload = OrderCancellation(
            shop=state.shop,
            order_id=state.order_id,
            cancelled_at=hook.order.cancelled_at,
            reason=hook.order.cancel_reason,
            released=released,
        )
        step.notice(OrderCancelled, payload, "cancel")


def route_of(store: Store) -> Route | None:
    """The store's routing rules as a command's route; None without rules."""
    rules = store.routing
    return None if rules is None else Route(locations=list(rules.locations), split=rules.split)


def received(state: OrderState) -> Order:
    return Order(
        shop=state.shop,
        order_id=state.order_id,
        name=state.name,
        lines=[
            OrderLine(line_id=ln.line_id, sku=ln.sku, quantity=ln.wanted, location=ln.location)
            for ln in state.lines.values()
        ],
        unmapped_lines=[ln.line_id for ln in state.lines.values() if ln.sku is None],
        routing=state.route is not None,
    )
