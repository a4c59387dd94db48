"""Planning fulfillment order moves (ADR 0035): surplus units Shopify assigned elsewhere go
where routing placed them, per line; refused units and closed fulfillment orders stay; a plan
made again once Shopify shows the placement is empty; units a fulfillment service holds
(Shopify refuses moving them) are planned apart and never taken before units that may move.
The documents validate against the oldest and newest Admin schema StockSync supports."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse

from shopify_sync.adapters.fulfillment_documents import (
    FULFILLMENT_ORDER_LINES_PAGE,
    FULFILLMENT_ORDER_MOVE,
    ORDER_FULFILLMENT_ORDERS,
)
from shopify_sync.domain.fulfillment_moves import plan_moves
from support.shopify_schema import validate_document

A, B = "gid://shopify/Location/1", "gid://shopify/Location/2"


def fo(
    fo_id: str,
    location: str,
    lines: list[tuple[str, str, int]],
    status: str = "OPEN",
    request: str = "UNSUBMITTED",
) -> Any:
    nodes = [{"id": i, "remainingQuantity": n, "lineItem": {"id": li}} for i, li, n in lines]
    return {"id": fo_id, "status": status, "requestStatus": request,
            "assignedLocation": {"location": {"id": location}},
            "lineItems": {"nodes": nodes}}  # fmt: skip


@pytest.mark.parametrize("version", ["2026-04", "2026-10"])
@pytest.mark.parametrize(
    "document",
    [FULFILLMENT_ORDER_MOVE, ORDER_FULFILLMENT_ORDERS, FULFILLMENT_ORDER_LINES_PAGE],
)
def test_documents_validate(document: str, version: str) -> None:
    assert validate_document(document, version) == []


def test_surplus_moves_to_the_placed_location_in_one_call_per_destination() -> None:
    fos = [fo("F1", A, [("x1", "L1", 2), ("x2", "L2", 3)])]
    moves = plan_moves(fos, {"L1": {B: 2}, "L2": {B: 2, A: 1}})
    assert [(m.fulfillment_order, m.location, m.lines) for m in moves] == [
        ("F1", B, {"x1": 2, "x2": 2})
    ]
    assert moves[0].variables()["fulfillmentOrderLineItems"] == [
        {"id": "x1", "quantity": 2}, {"id": "x2", "quantity": 2}
    ]  # fmt: skip


def test_in_step_refused_and_closed_units_stay() -> None:
    fos = [
        fo("F1", B, [("x1", "L1", 2)]),  # already where routing put it
        fo("F2", A, [("x2", "L2", 4)]),  # 1 of 4 placed at B: 3 refused, they stay at A
        fo("F3", A, [("x3", "L3", 1)], status="CLOSED"),
    ]
    moves = plan_moves(fos, {"L1": {B: 2}, "L2": {B: 1}, "L3": {B: 1}})
    assert [(m.fulfillment_order, m.location, m.lines) for m in moves] == [("F2", B, {"x2": 1})]
    after = [fo("F1", B, [("x1", "L1", 2)]), fo("F2", A, [("x2", "L2", 3)]),
             fo("F4", B, [("x4", "L2", 1)])]  # fmt: skip
    assert plan_moves(after, {"L1": {B: 2}, "L2": {B: 1}, "L3": {B: 1}}) == []


def fulfillment_order_fields(document: str) -> set[str]:
    """The fields the page query reads of each fulfillment order."""
    (operation,) = parse(document).definitions
    assert isinstance(operation, OperationDefinitionNode)
    node: Any = operation
    for name in ("order", "fulfillmentOrders", "nodes"):
        node = next(f for f in node.selection_set.selections if f.name.value == name)
    return {f.name.value for f in node.selection_set.selections if isinstance(f, FieldNode)}


def test_the_page_query_reads_each_fulfillment_orders_request_status() -> None:
    assert {"status", "requestStatus"} <= fulfillment_order_fields(ORDER_FULFILLMENT_ORDERS)


def test_units_a_fulfillment_service_holds_are_planned_apart_and_others_still_move() -> None:
    fos = [
        fo("F1", A, [("x1", "L1", 2)], request="ACCEPTED"),
        fo("F2", A, [("x2", "L2", 1)], request="REJECTED"),  # the service let it go
        fo("F3", A, [("x3", "L3", 2)], request="SUBMITTED"),
        fo("F4", A, [("x4", "L3", 1)]),
        fo("F5", A, [("x5", "L4", 1)], status="IN_PROGRESS", request="CANCELLATION_REJECTED"),
    ]
    # L3: 2 of its 3 units stay at A; those F3's service holds count there, F4's one moves
    wanted = {"L1": {B: 2}, "L2": {B: 1}, "L3": {A: 2, B: 1}, "L4": {B: 1}}
    moves = plan_moves(fos, wanted)
    assert [(m.fulfillment_order, m.location, m.lines, m.held) for m in moves] == [
        ("F1", B, {"x1": 2}, "ACCEPTED"),
        ("F2", B, {"x2": 1}, None),
        ("F4", B, {"x4": 1}, None),
        ("F5", B, {"x5": 1}, "CANCELLATION_REJECTED"),
    ]
