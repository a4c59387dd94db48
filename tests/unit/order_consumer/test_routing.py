"""A store with routing rules (ADR 0018): each line's reserve, release and commit carry the
route; where the adjuster placed each line, or the locations a refusal tried, are recorded
once; ``order.routed`` is due once every line reserved on arrival is placed or refused."""

from __future__ import annotations

from typing import Any

import pytest
from unit.order_consumer.payloads import SHOP, STORE, fulfillment, item, key, order

from order_consumer.domain import (
    Hook,
    OrderState,
    Outcome,
    Placement,
    Refusal,
    apply,
    apply_placement,
    apply_refusal,
    parse_webhook,
)
from stocksync_common.stores import Routing

ROUTED = STORE.model_copy(update={"routing": Routing(locations=("wh-2", "wh-1"), split=True)})


def run(state: OrderState | None, topic: str, body: dict[str, Any]) -> Outcome:
    hook = parse_webhook(topic, body)
    assert hook is not None
    return apply(state, hook, ROUTED, {})


def placed(out: Outcome, line: int, routed: dict[str, int]) -> Outcome:
    result = apply_placement(
        out.state, Placement(SHOP, "1", str(line), key(1, line, "reserve"), routed)
    )
    assert result is not None
    return result


@pytest.fixture
def created() -> Outcome:
    return run(None, "orders/create", order(1, item(11, "A", 3), item(12, "B", 2)))


def test_every_reserve_carries_the_stores_route(created: Outcome) -> None:
    assert [c.command for c in created.commands] == ["reserve", "reserve"]
    for c in created.commands:
        assert c.route is not None and c.route.locations == ["wh-2", "wh-1"] and c.route.split
    received = next(n for n in created.notices if n.type == "order.received")
    assert received.payload["routing"] is True  # the warehouse waits for order.routed


def test_order_routed_once_every_line_is_placed_or_refused(created: Outcome) -> None:
    first = placed(created, 11, {"wh-2": 1, "wh-1": 2})
    assert first.notices == [] and first.state.lines["11"].routed == {"wh-2": 1, "wh-1": 2}
    refused = apply_refusal(
        first.state, Refusal(SHOP, "1", "12", key(1, 12, "reserve"), ("wh-2", "wh-1"))
    )
    assert refused is not None and refused.state.lines["12"].tried == ["wh-2", "wh-1"]
    (notice,) = refused.notices
    assert notice.type == "order.routed"
    lines = sorted(
        (ln["line_id"], ln["location"], ln["quantity"]) for ln in notice.payload["lines"]
    )
    assert lines == [("11", "wh-1", 2), ("11", "wh-2", 1)]
    assert notice.payload["refused_lines"] == ["12"]
    # a redelivered refusal publishes the same event again, and nothing new is due
    again = apply_refusal(
        refused.state, Refusal(SHOP, "1", "12", key(1, 12, "reserve"), ("wh-2", "wh-1"))
    )
    assert again is not None and again.replay and [n.id for n in again.notices] == [notice.id]


def test_a_replayed_placement_counts_nothing_twice(created: Outcome) -> None:
    first = placed(created, 11, {"wh-2": 3})
    again = placed(first, 11, {"wh-2": 3})
    assert again.replay and again.state.lines["11"].routed == {"wh-2": 3}


def test_a_placement_of_an_unknown_reservation_is_not_ours(created: Outcome) -> None:
    stray = Placement(SHOP, "1", "11", key(1, 11, "reserve:other"), {"wh-2": 1})
    assert apply_placement(created.state, stray) is None


def test_a_shipment_commits_where_the_line_is_held(created: Outcome) -> None:
    shipped = run(created.state, "fulfillments/create", fulfillment(5, 1, (11, 3), sku="A"))
    (commit,) = shipped.commands
    assert commit.command == "commit" and commit.quantity == 3 and commit.route is not None


def test_a_line_placed_at_warehouse_locations_is_committed_by_the_warehouse_only(
    created: Outcome,
) -> None:
    at_wms = placed(created, 11, {"wh-2": 3})
    hook = parse_webhook("fulfillments/create", fulfillment(5, 1, (11, 3), sku="A"))
    assert hook is not None
    # Shopify reports the fulfilment at the order's own location, not the warehouse's
    shipped = apply(at_wms.state, hook, ROUTED, {}, frozenset({"wh-2"}))
    assert shipped.commands == [] and shipped.state.lines["11"].reserved == 0
    elsewhere = apply(at_wms.state, hook, ROUTED, {}, frozenset({"wh-9"}))
    assert [c.command for c in elsewhere.commands] == ["commit"]


def test_an_order_keeps_the_routing_it_arrived_with_when_the_stores_file_changes() -> None:
    body = order(2, item(21, "A", 2))
    cancel = order(2, item(21, "A", 2), updated=5, cancelled=5)
    before = apply(None, _hook("orders/create", body), STORE, {})  # no routing yet
    later = apply(before.state, _hook("orders/cancelled", cancel), ROUTED, {})
    (release,) = later.commands
    assert release.command == "release" and release.route is None  # held without routing
    routed = run(None, "orders/create", order(3, item(31, "A", 2)))
    dropped = apply(
        routed.state, _hook("orders/cancelled", order(3, item(31, "A", 2), cancelled=5)), STORE, {}
    )
    (release,) = dropped.commands
    assert release.route is not None and release.route.locations == ["wh-2", "wh-1"]


def _hook(topic: str, body: dict[str, Any]) -> Hook:
    hook = parse_webhook(topic, body)
    assert hook is not None
    return hook
