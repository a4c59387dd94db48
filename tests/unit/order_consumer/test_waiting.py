"""A refused reservation the adjuster reserved later from the SKU's waiting list (ADR 0022):
held again while the order wants it, released at once when it no longer does; once."""

from __future__ import annotations

from unit.order_consumer.payloads import SHOP, commands, item, key, order, run

from order_consumer.domain import (
    OrderState,
    Refusal,
    Rereservation,
    apply_refusal,
    apply_rereservation,
)
from stocksync_common.events import Route, stable_id

RESERVE = key(1, 11, "reserve")


def refused_order() -> OrderState:
    created = run(None, "orders/create", order(1, item(11, "SKU-A", 3)))
    out = apply_refusal(created.state, Refusal(SHOP, "1", "11", RESERVE))
    assert out is not None
    return out.state


def served(quantity: int = 3) -> Rereservation:
    return Rereservation(SHOP, "1", "11", RESERVE, "wh-1", quantity)


def test_an_open_order_holds_the_units_again_and_a_cancel_releases_them() -> None:
    out = apply_rereservation(refused_order(), served())
    assert out is not None and out.changed and out.commands == []
    line = out.state.lines["11"]
    assert (line.reserved, line.unheld, line.rereserved) == (3, 0, 3)
    # held now: a cancel releases them (while unheld, it released nothing)
    shipped = run(out.state, "orders/cancelled", order(1, item(11, "SKU-A", 3), updated=5,
                                                       cancelled=5))  # fmt: skip
    assert commands(shipped) == [
        ("release", "SKU-A", 3, "wh-1", key(1, 11, "release:cancel")),
    ]
    again = apply_rereservation(out.state, served())
    assert again is not None and again.replay and again.commands == []


def test_units_a_cancelled_order_no_longer_wants_are_released_once() -> None:
    cancelled = run(
        refused_order(), "orders/cancelled", order(1, item(11, "SKU-A", 3), updated=5, cancelled=5)
    )
    assert cancelled.commands == []  # nothing held: nothing released by the cancel
    out = apply_rereservation(cancelled.state, served())
    assert out is not None
    release = key(1, 11, f"release:waited:{stable_id(RESERVE)}")
    assert commands(out) == [("release", "SKU-A", 3, "wh-1", release)]
    assert out.state.lines["11"].reserved == 0
    replay = apply_rereservation(out.state, served())  # redelivered: the same release again
    assert replay is not None and replay.replay and commands(replay) == commands(out)


def test_a_reservation_the_order_does_not_know_is_ignored() -> None:
    assert apply_rereservation(None, served()) is None
    other = Rereservation(SHOP, "1", "11", key(1, 11, "reserve:rev:9-x"), "wh-1", 3)
    assert apply_rereservation(refused_order(), other) is None


def test_a_routed_line_served_later_is_announced_with_its_placement() -> None:
    """ADR 0031: a routed refused line placed later holds its units where they were placed,
    says so (``order.rereserved``) and, its order routed already, goes to the warehouse in a
    follow-up ``order.routed``; a redelivery publishes the same events again."""
    created = run(None, "orders/create", order(1, item(11, "SKU-A", 3)))
    routed = created.state.model_copy(deep=True)
    routed.route = Route(locations=["wh-1", "wh-2"])
    refused = apply_refusal(routed, Refusal(SHOP, "1", "11", RESERVE, ("wh-1", "wh-2")))
    assert refused is not None and refused.state.routed  # the first order.routed is out
    placed = Rereservation(SHOP, "1", "11", RESERVE, "wh-1", 3, {"wh-2": 3})
    out = apply_rereservation(refused.state, placed)
    assert out is not None and out.state.lines["11"].routed == {"wh-2": 3}
    kinds = {n.type: n.payload for n in out.notices}
    assert kinds["order.rereserved"]["locations"] == {"wh-2": 3}
    follow_up = kinds["order.routed"]
    assert follow_up["follow_up"] and follow_up["refused_lines"] == []
    assert [(ln["line_id"], ln["location"], ln["quantity"]) for ln in follow_up["lines"]] == [
        ("11", "wh-2", 3)
    ]
    again = apply_rereservation(out.state, placed)
    assert again is not None and again.replay
    assert [n.id for n in again.notices] == [n.id for n in out.notices]
