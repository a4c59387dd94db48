"""Planning fulfillment order moves (ADR 0035): surplus units Shopify assigned elsewhere go
where routing placed them, per line; refused units and closed fulfillment orders stay; a plan
made again once Shopify shows the placement is empty. The documents validate against the
oldest and newest Admin schema StockSync supports."""

from __future__ import annotations

from typing import Any

import pytest

from shopify_sync.adapters.fulfillment_documents import (
    FULFILLMENT_ORDER_LINES_PAGE,
    FULFILLMENT_ORDER_MOVE,
    ORDER_FULFILLMENT_ORDERS,
)
from shopify_sync.domain.fulfillment_moves import plan_moves
from support.shopify_schema import validate_document

A, B = "gid://shopify/Location/1", "gid://shopify/Location/2"


def fo(fo_id: str, location: str, lines: list[tuple[str, str, int]], status: str = "OPEN") -> Any:
    nodes = [{"id": i, "remainingQuantity": n, "lineItem": {"id": li}} for i, li, n in lines]
    return {"id": fo_id, "status": status, "assignedLocation": {"location": {"id": location}},
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
