"""A refused reservation of ours that inventory-adjuster reserved later, fed back.

A ``reserve`` refused under the reject policy waits on the SKU's waiting
list in inventory-adjuster; when stock comes back, the adjuster reserves the waiting lines
in order of arrival, atomically with the command that returned the stock, and publishes an
``inventory.changed`` with ``rereserved`` and the refused reserve's key
(docs/decisions/0022-residual-order-edge-cases.md); a routed one is placed where its
route allows, as on arrival, and says where (``routed``; ADR 0031). Applied once (fact
``rereserved:{idempotency key}``):

- while the order is open, the line's ``unheld`` units become held again (``reserved``),
  up to what is still unheld: later diffs release or commit them as any held unit (a
  routed line's placement joins ``routed``);
- units the order no longer wants (cancelled, deleted, or its open units shrank since the
  refusal) are released at once: a ``release`` recorded with the fact (key
  ``...:line:{line}:release:waited:{digest of the reserve's key}``), so a redelivery
  publishes the same command again and the adjuster applies it once;
- ``order.rereserved`` says what became of it (units held, where, units released),
  recorded with the fact too (ADR 0031).
"""

from __future__ import annotations

from dataclasses import dataclass

from order_consumer.domain.keys import command_key, event_id
from order_consumer.domain.routing import follow_up_notice
from order_consumer.domain.state import FactRecord, Notice, OrderState, Outcome, feedback_start
from stocksync_common.events import (
    InventoryCommand,
    OrderLineRef,
    OrderRereserved,
    RereservedLine,
    stable_id,
)

RERESERVED_TYPE = str(OrderRereserved.model_fields["type"].default)


@dataclass(frozen=True)
class Rereservation:
    """What a ``rereserved`` change says about one of our refused reservations."""

    shop: str
    order_id: str
    line_id: str
    idempotency_key: str
    location: str
    quantity: int
    routed: dict[str, int] | None = None  # a routed line: units placed per location

    @property
    def fact(self) -> str:
        return f"rereserved:{self.idempotency_key}"


def apply_rereservation(state: OrderState | None, r: Rereservation) -> Outcome | None:
    """Hold again the units the adjuster reserved for a refused line, release what the
    order no longer wants (``state`` is never mutated); None when the order's state does not
    know that reservation."""
    if state is None:
        return None
    if r.fact in state.facts:  # seen before: its release (if any) again, nothing new
        done = state.facts[r.fact]
        return Outcome(
            state=state, commands=list(done.commands), notices=list(done.notices), replay=True
        )
    work, _, cmd, line = feedback_start(state, r.fact, r.idempotency_key)
    if cmd is None or line is None:
        return None
    take = 0 if work.cancelled or work.deleted else min(r.quantity, line.unheld)
    line.unheld -= take
    line.reserved += take
    line.rereserved += take
    held = placed(r, take)
    if r.routed:
        for loc, n in held.items():
            line.routed[loc] = line.routed.get(loc, 0) + n
    commands = []
    if r.quantity > take:
        key = command_key(
            r.shop, r.order_id, r.line_id, "release", "waited", stable_id(r.idempotency_key)
        )
        commands.append(
            InventoryCommand(
                command="release",
                idempotency_key=key,
                sku=cmd.sku,
                location=r.location,
                quantity=r.quantity - take,
                order=OrderLineRef(shop=r.shop, order_id=r.order_id, line_id=r.line_id),
                route=work.route,  # a routed line's units are released where it holds them
            )
        )
    notices = [rereserved_notice(r, cmd.sku, take, held)]
    if r.routed and work.routed:  # the warehouse was told the line was refused
        notices += follow_up_notice(work, line, held, r.fact)
    work.facts[r.fact] = FactRecord(commands=commands, notices=notices)
    return Outcome(state=work, commands=commands, notices=notices, changed=True)


def placed(r: Rereservation, take: int) -> dict[str, int]:
    """Where the ``take`` units the order keeps are held: the placement's first ones."""
    held, left = {}, take
    for loc, units in (r.routed or {r.location: r.quantity}).items():
        n = min(units, left)
        if n > 0:
            held[loc] = n
        left -= n
    return held


def rereserved_notice(r: Rereservation, sku: str, take: int, held: dict[str, int]) -> Notice:
    """``order.rereserved``: its id from the fact, so a redelivery publishes it again the same."""
    payload = RereservedLine(
        shop=r.shop,
        order_id=r.order_id,
        line_id=r.line_id,
        sku=sku,
        quantity=take,
        released=r.quantity - take,
        locations=held,
    )
    return Notice(
        type=RERESERVED_TYPE,
        id=event_id(RERESERVED_TYPE, r.shop, r.order_id, r.fact),
        payload=payload.model_dump(mode="json"),
    )
