"""What order-consumer remembers about one order, between its webhooks.

Per line it keeps the counters every webhook is diffed against: the units the customer still
wants (``wanted``: ordered, plus or minus edits; refunds are counted apart), what shipped,
what refunds took away before and after shipping, what returned to stock, and what we hold
(``reserved``). Per order it keeps the *facts* already applied (a snapshot revision, a
fulfillment, a refund, an edit), each with the commands and events it produced: a delivery
seen before re-publishes exactly those (same keys and ids), so the state can be saved before
publishing (an outbox) and a crash in between loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stocksync_common.events import InventoryCommand, Route


class Mutable(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class LineState(Mutable):
    line_id: str
    sku: str | None = None
    variant_id: str | None = None
    product_id: str | None = None
    title: str | None = None
    location: str
    confirmed: bool = False  # seen in a whole-order payload, so ``wanted`` is known
    wanted: int = 0
    shipped: int = 0
    refunded_unshipped: int = 0  # removed before shipping (cancel; no_restock on open units)
    refunded_shipped: int = 0  # refunded after shipping (return; no_restock on shipped units)
    returned: int = 0  # units a ``return`` restock put back on hand
    reserved: int = 0  # units we asked inventory-adjuster to hold (and it did not refuse)
    # Open units a refused reservation left unheld (``order.oversold``): never reserved
    # again by a settle, and taken off first when the open units shrink.
    unheld: int = 0
    refused: int = 0  # units inventory-adjuster refused to reserve, over the order's life
    oversold: bool = False  # a reservation of this line was refused
    # Refused units the adjuster reserved later, from the SKU's waiting list (ADR 0022).
    rereserved: int = 0
    # While the line had no SKU: the on-hand moves its shipments and returns would have
    # made, per location; taken off on-hand once the line is mapped (ADR 0022, c).
    unmapped_on_hand: dict[str, int] = Field(default_factory=dict)
    # A routed store (ADR 0018): units the adjuster reserved per location (from its changes),
    # and the locations a refused reservation tried, in order.
    routed: dict[str, int] = Field(default_factory=dict)
    tried: list[str] = Field(default_factory=list)

    @property
    def open(self) -> int:
        """Units still to ship."""
        return max(0, self.wanted - self.refunded_unshipped - self.shipped)


class Notice(Mutable):
    """A lifecycle event for ``orders.v1``: its type, deterministic id and payload."""

    type: str
    id: str
    payload: dict[str, Any]


class FactRecord(Mutable):
    commands: list[InventoryCommand] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)
    children: list[str] = Field(default_factory=list)  # facts a snapshot carried


class OrderState(Mutable):
    shop: str
    order_id: str
    name: str | None = None
    received: bool = False  # order.received was published
    cancelled: bool = False
    deleted: bool = False
    snapshot_at: datetime | None = None  # updated_at of the newest snapshot applied
    as_of: datetime | None = None  # the newest of snapshot_at and the edits' committed_at
    # The store's routing when the order arrived (ADR 0018): its reserves, releases and
    # commits keep that mode and route for the order's life, whatever the stores file says
    # later (a hold made under routing is released under it, and one made without, without).
    route: Route | None = None
    routed: bool = False  # order.routed was published
    lines: dict[str, LineState] = Field(default_factory=dict)
    facts: dict[str, FactRecord] = Field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What applying one webhook gives: the new state and what to publish."""

    state: OrderState
    commands: list[InventoryCommand] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    replay: bool = False  # a fact seen before: its recorded effects, nothing new
    changed: bool = False  # the state must be saved
    # A refusal learnt only after releases or commits already counted the refused units
    # as held: those units came off other orders' holds (see :mod:`refusal`).
    unbacked: int = 0
    # The order (or its shop) was erased by a compliance request: nothing applied, nothing
    # published, nothing saved (a tombstone; ADR 0022, d).
    erased: bool = False


def find_reserve(state: OrderState, key: str) -> InventoryCommand | None:
    """The ``reserve`` command with that key among those the order's facts produced."""
    for record in state.facts.values():
        for cmd in record.commands:
            if cmd.idempotency_key == key and cmd.command == "reserve":
                return cmd
    return None


def feedback_start(
    state: OrderState, fact: str, key: str
) -> tuple[OrderState, Outcome | None, InventoryCommand | None, LineState | None]:
    """The start of applying adjuster feedback about the reservation ``key`` once (fact
    ``fact``): a copy of the state; the replay when the fact was applied (its recorded
    notices again); else our ``reserve`` with that key and its line (None when unknown)."""
    work = state.model_copy(deep=True)
    if fact in work.facts:
        return work, Outcome(state=work, notices=work.facts[fact].notices, replay=True), None, None
    cmd = find_reserve(work, key)
    line_id = cmd.order.line_id if cmd is not None and cmd.order is not None else None
    return work, None, cmd, work.lines.get(line_id) if line_id is not None else None
