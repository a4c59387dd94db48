"""A reservation inventory-adjuster refused (``order.oversold``), fed back into the order's
state: later diffs never release or commit units that were never held."""

from __future__ import annotations

from typing import Any

import pytest
from unit.order_consumer.payloads import (
    SHOP,
    at,
    commands,
    edit,
    fulfillment,
    item,
    key,
    order,
    refund,
    run,
)

from order_consumer.domain import OrderState, Outcome, Refusal, apply_refusal, is_own_reserve
from stocksync_common.events import InventoryCommand

CREATE = "orders/create"
UPDATED = "orders/updated"
CANCELLED = "orders/cancelled"
FULFILLED = "fulfillments/create"
REFUND = "refunds/create"
EDITED = "orders/edited"


def refused(state: OrderState, key_: str, line_id: int = 11) -> Outcome:
    out = apply_refusal(state, Refusal(SHOP, "1", str(line_id), key_))
    assert out is not None
    return out


def cancel_body(*items: dict[str, Any], updated: int = 10, **kw: Any) -> dict[str, Any]:
    return order(1, *items, updated=updated, cancelled=updated, **kw)


def line_of(outcome: Outcome, line_id: int = 11) -> tuple[int, int, int, bool]:
    """(reserved, unheld, refused, oversold) of a line."""
    ln = outcome.state.lines[str(line_id)]
    return ln.reserved, ln.unheld, ln.refused, ln.oversold


class Adjuster:
    """inventory-adjuster for one SKU and location, reject policy: refused keys move
    nothing; release and commit clamp at 0 over all orders (not per order)."""

    def __init__(self, others: int, refuse: set[str]) -> None:
        self.reserved = others  # held for other orders
        self.others = others
        self.refuse = refuse
        self.seen: set[str] = set()

    def run(self, cmds: list[InventoryCommand]) -> None:
        for c in cmds:
            if c.idempotency_key in self.seen or c.idempotency_key in self.refuse:
                continue
            self.seen.add(c.idempotency_key)
            if c.command == "reserve":
                self.reserved += c.quantity
            elif c.command in ("release", "commit"):
                self.reserved = max(0, self.reserved - c.quantity)


def test_refusal_of_the_create_reservation_leaves_nothing_held_and_publishes_nothing():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3), item(12, "SKU-B", 1)))
    out = refused(created.state, key(1, 11, "reserve"))
    assert out.changed and not out.replay and out.commands == [] and out.notices == []
    assert line_of(out) == (0, 3, 3, True)
    assert out.unbacked == 0
    assert out.state.lines["12"].reserved == 1  # the other line is untouched
    assert f"oversold:{key(1, 11, 'reserve')}" in out.state.facts


def test_cancel_after_the_refusal_releases_only_what_is_held():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3), item(12, "SKU-B", 1)))
    state = refused(created.state, key(1, 11, "reserve")).state
    out = run(state, CANCELLED, cancel_body(item(11, "SKU-A", 3), item(12, "SKU-B", 1)))
    assert commands(out) == [("release", "SKU-B", 1, "wh-1", key(1, 12, "release:cancel"))]
    (cancelled,) = out.notices
    assert [r["line_id"] for r in cancelled.payload["released"]] == ["12"]
    assert line_of(out)[:2] == (0, 0)


def test_refusal_learnt_after_the_cancel_changes_no_hold_and_releases_nothing_again():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    cancel = run(created.state, CANCELLED, cancel_body(item(11, "SKU-A", 3)))
    assert commands(cancel) == [("release", "SKU-A", 3, "wh-1", key(1, 11, "release:cancel"))]
    out = refused(cancel.state, key(1, 11, "reserve"))
    assert out.changed and out.commands == []
    assert line_of(out) == (0, 0, 3, True)  # never negative
    assert out.unbacked == 3  # released before the refusal was known
    # Anything later about the order moves no hold.
    late = run(out.state, UPDATED, {**cancel_body(item(11, "SKU-A", 3)), "updated_at": at(20)})
    assert commands(late) == []


@pytest.mark.parametrize("refusal_first", [True, False])
def test_the_refusal_and_the_cancel_in_either_order_end_in_the_same_state(refusal_first):
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    body = cancel_body(item(11, "SKU-A", 3))
    if refusal_first:
        state = run(refused(created.state, key(1, 11, "reserve")).state, CANCELLED, body).state
    else:
        state = refused(run(created.state, CANCELLED, body).state, key(1, 11, "reserve")).state
    line = state.lines["11"]
    assert (line.reserved, line.unheld, line.refused, line.oversold) == (0, 0, 3, True)
    assert state.cancelled


def test_with_the_refusal_known_first_other_orders_keep_their_holds():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    adjuster = Adjuster(others=5, refuse={key(1, 11, "reserve")})
    adjuster.run(created.commands)
    state = refused(created.state, key(1, 11, "reserve")).state
    shipped = run(state, FULFILLED, fulfillment(501, 1, (11, 1)))
    adjuster.run(shipped.commands)
    cancel = run(shipped.state, CANCELLED, cancel_body(item(11, "SKU-A", 3), updated=20))
    adjuster.run(cancel.commands)
    assert adjuster.reserved == adjuster.others


def test_partial_refusal_keeps_the_units_that_were_held():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    edited = run(created.state, EDITED, edit(71, 1, committed=5, additions=((11, 2),)))
    assert commands(edited) == [("reserve", "SKU-A", 2, "wh-1", key(1, 11, "reserve:edit:71"))]
    out = refused(edited.state, key(1, 11, "reserve:edit:71"))
    assert line_of(out) == (3, 2, 2, True)
    assert out.state.lines["11"].open == 5
    # Two units removed again: the unheld ones go first, nothing is released.
    fewer = run(out.state, UPDATED, order(1, item(11, "SKU-A", 5, current=3), updated=6))
    assert commands(fewer) == []
    assert line_of(fewer) == (3, 0, 2, True)
    # One more unit cancelled: now a held one is released.
    cancelled = run(fewer.state, REFUND, refund(901, 1, (9011, 11, 1, "cancel", None)))
    assert [(c[0], c[2]) for c in commands(cancelled)] == [("release", 1)]
    assert line_of(cancelled)[:2] == (2, 0)


def test_more_units_wanted_after_a_refusal_reserve_only_the_new_units():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    state = refused(created.state, key(1, 11, "reserve")).state
    more = run(state, UPDATED, order(1, item(11, "SKU-A", 5), updated=5))
    assert [(c[0], c[2]) for c in commands(more)] == [("reserve", 2)]
    assert line_of(more) == (2, 3, 3, True)


def test_duplicate_refusal_changes_nothing():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    first = refused(created.state, key(1, 11, "reserve"))
    again = refused(first.state, key(1, 11, "reserve"))
    assert again.replay and not again.changed
    assert again.commands == [] and again.unbacked == 0
    assert again.state == first.state


def test_fulfilment_after_the_refusal_takes_stock_with_adjust_not_commit():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    state = refused(created.state, key(1, 11, "reserve")).state
    out = run(state, FULFILLED, fulfillment(501, 1, (11, 2)))
    assert commands(out) == [("adjust", "SKU-A", -2, "wh-1", key(1, 11, "adjust:fulfillment:501"))]
    assert line_of(out)[:2] == (0, 1)
    rest = run(out.state, FULFILLED, fulfillment(502, 1, (11, 1)))
    assert commands(rest) == [("adjust", "SKU-A", -1, "wh-1", key(1, 11, "adjust:fulfillment:502"))]
    assert line_of(rest)[:2] == (0, 0)


def test_fulfilment_after_a_partial_refusal_commits_the_held_units_only():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 2)))
    edited = run(created.state, EDITED, edit(71, 1, committed=5, additions=((11, 2),)))
    state = refused(edited.state, key(1, 11, "reserve:edit:71")).state
    out = run(state, FULFILLED, fulfillment(501, 1, (11, 3)))
    assert [(c[0], c[2]) for c in commands(out)] == [("commit", 2), ("adjust", -1)]
    assert line_of(out)[:2] == (0, 1)


def test_refusal_learnt_after_a_shipment_takes_off_only_what_is_still_believed_held():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    shipped = run(created.state, FULFILLED, fulfillment(501, 1, (11, 2)))
    assert [(c[0], c[2]) for c in commands(shipped)] == [("commit", 2)]
    out = refused(shipped.state, key(1, 11, "reserve"))
    assert line_of(out) == (0, 1, 3, True)
    assert out.unbacked == 2
    rest = run(out.state, FULFILLED, fulfillment(502, 1, (11, 1)))
    assert [(c[0], c[2]) for c in commands(rest)] == [("adjust", -1)]


def test_refusal_learnt_after_an_update_released_part_of_it():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 5)))
    fewer = run(created.state, UPDATED, order(1, item(11, "SKU-A", 5, current=3), updated=5))
    assert [(c[0], c[2]) for c in commands(fewer)] == [("release", 2)]
    out = refused(fewer.state, key(1, 11, "reserve"))
    assert line_of(out) == (0, 3, 5, True)
    assert out.unbacked == 2


def test_refusal_after_delete_and_refusal_of_unknown_commands():
    created = run(None, CREATE, order(1, item(11, "SKU-A", 3)))
    assert apply_refusal(None, Refusal(SHOP, "1", "11", key(1, 11, "reserve"))) is None
    # A key this order never issued (or not a reserve) is not applied.
    assert apply_refusal(created.state, Refusal(SHOP, "1", "11", key(1, 11, "reserve:x"))) is None
    shipped = run(created.state, FULFILLED, fulfillment(501, 1, (11, 1)))
    commit_key = key(1, 11, "commit:fulfillment:501")
    assert apply_refusal(shipped.state, Refusal(SHOP, "1", "11", commit_key)) is None


def test_own_reserve_keys():
    assert is_own_reserve(SHOP, "1", "11", key(1, 11, "reserve"))
    assert is_own_reserve(SHOP, "1", "11", key(1, 11, "reserve:edit:71"))
    assert is_own_reserve(SHOP, "1", "11", key(1, 11, "reserve:rev:1-abc"))
    assert not is_own_reserve(SHOP, "1", "11", key(1, 11, "release:cancel"))
    assert not is_own_reserve(SHOP, "1", "11", key(1, 111, "reserve"))
    assert not is_own_reserve(SHOP, "1", "11", key(1, 11, "reservex"))
    assert not is_own_reserve(SHOP, "1", "11", "wms:a:reserve")
