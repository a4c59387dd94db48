"""Where inventory-adjuster reserved a routed order's lines, fed back into its state.

A store with routing rules sends each line's ``reserve`` with its route; the adjuster picks
the location(s) (docs/decisions/0018-order-routing.md) and says so on
``inventory.changed.v1`` (``routed``: units per location) or refuses the line
(``order.oversold`` with the locations ``tried``). Each outcome is applied once per
reservation (fact ``routed:{idempotency key}``; a refusal is :mod:`refusal`'s). Once every
line the order reserved on arrival is placed or refused, ``order.routed`` carries the lines
at their locations (a split line once per location) to the warehouse: recorded with the
fact, so a redelivery publishes it again with the same id, and it is published once.
A placement after that (a line added by an edit, more units of a line, a refused line
reserved when stock came back) sends an ``order.routed`` of its own with just those units
(``follow_up``: the placement's reference; ADR 0031), recorded with its fact the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from order_consumer.domain.hooks import CREATE_FACT
from order_consumer.domain.keys import command_key, event_id
from order_consumer.domain.state import (
    FactRecord,
    LineState,
    Notice,
    OrderState,
    Outcome,
    feedback_start,
    find_reserve,
)
from stocksync_common.events import Order, OrderLine, OrderRouted, stable_id

ROUTED_TYPE = str(OrderRouted.model_fields["type"].default)


@dataclass(frozen=True)
class Placement:
    """What a routed ``inventory.changed`` says about one of our reservations."""

    shop: str
    order_id: str
    line_id: str
    idempotency_key: str
    routed: dict[str, int]

    @property
    def fact(self) -> str:
        return f"routed:{self.idempotency_key}"


def apply_placement(state: OrderState | None, placement: Placement) -> Outcome | None:
    """Record where a reservation was placed (``state`` is never mutated); None when the
    order's state does not know that reservation."""
    if state is None:
        return None
    work, replay, _, line = feedback_start(state, placement.fact, placement.idempotency_key)
    if replay is not None:
        return replay
    if line is None:
        return None
    followed = work.routed
    for loc, units in placement.routed.items():
        line.routed[loc] = line.routed.get(loc, 0) + units
    if followed:
        notices = follow_up_notice(work, line, placement.routed, placement.fact)
    else:
        notices = routed_notice(work)
    work.facts[placement.fact] = FactRecord(notices=notices)
    return Outcome(state=work, notices=notices, changed=True)


def follow_up_notice(
    state: OrderState, line: LineState, placed: dict[str, int], fact: str
) -> list[Notice]:
    """``order.routed`` of units placed after the order's first one: this line's, at the
    locations just placed (none when nothing was placed)."""
    units = {loc: n for loc, n in sorted(placed.items()) if n > 0}
    if not units or line.sku is None:
        return []
    lines = [
        OrderLine(line_id=line.line_id, sku=line.sku, quantity=n, location=loc)
        for loc, n in units.items()
    ]
    return routed_event(state, lines, fact, follow_up=stable_id(fact)[:8])


def routed_notice(state: OrderState) -> list[Notice]:
    """``order.routed`` once every line reserved on arrival is placed or refused (``state``
    is marked: it is due once); nothing otherwise."""
    if state.route is None or state.routed:
        return []
    placed = []
    for line in state.lines.values():
        key = command_key(state.shop, state.order_id, line.line_id, "reserve", CREATE_FACT)
        if line.sku is None or find_reserve(state, key) is None:
            continue
        if not line.routed and not line.oversold:
            return []
        placed.append(line)
    if not placed:
        return []
    state.routed = True
    lines = [
        OrderLine(line_id=ln.line_id, sku=ln.sku, quantity=units, location=loc)
        for ln in placed
        for loc, units in sorted(ln.routed.items())
        if units > 0
    ]
    refused = [ln.line_id for ln in placed if ln.oversold and not ln.routed]
    return routed_event(state, lines, "routed", refused_lines=refused)


def routed_event(
    state: OrderState, lines: list[OrderLine], fact: str, **extra: object
) -> list[Notice]:
    """One ``order.routed`` of ``lines``, its id from the order and ``fact``."""
    order = Order.model_validate(
        {
            "shop": state.shop,
            "order_id": state.order_id,
            "name": state.name,
            "lines": lines,
            "routing": True,
            **extra,
        }
    )
    return [
        Notice(
            type=ROUTED_TYPE,
            id=event_id(ROUTED_TYPE, state.shop, state.order_id, fact),
            payload=order.model_dump(mode="json"),
        )
    ]
