"""Reading webhook bodies: what is refused (a poison message), what is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from unit.order_consumer.payloads import item, order, refund

from order_consumer.domain import BadOrder, parse_webhook
from order_consumer.domain.hooks import RefundHook, SnapshotHook


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("orders/create", {"line_items": []}),
        ("orders/create", {"id": 1}),
        ("orders/create", {"id": True, "line_items": []}),
        ("orders/create", {"id": 1, "line_items": [{"sku": "A", "quantity": 1}]}),
        ("orders/create", {"id": 1, "line_items": [{"id": 1, "sku": "A", "quantity": "2"}]}),
        ("orders/create", {"id": 1, "line_items": [{"id": 1, "sku": "A", "quantity": -1}]}),
        ("orders/updated", {"id": 1, "line_items": [], "updated_at": "yesterday"}),
        ("refunds/create", {"id": 9, "refund_line_items": []}),
        ("refunds/create", {"id": 9, "order_id": 1, "refund_line_items": [{"id": 1}]}),
        ("fulfillments/create", {"id": 5, "order_id": 1, "line_items": [{"quantity": 1}]}),
        ("orders/edited", {"id": 1}),
        (
            "orders/edited",
            {"order_edit": {"id": 1, "order_id": 1, "line_items": {"additions": [{"id": 2}]}}},
        ),
        ("orders/delete", {}),
    ],
)
def test_malformed_bodies_are_refused(topic: str, body: dict[str, Any]) -> None:
    with pytest.raises(BadOrder, match=topic):
        parse_webhook(topic, body)


@pytest.mark.parametrize("topic", ["products/update", "inventory_levels/update", "app/uninstalled"])
def test_other_topics_are_ignored(topic: str) -> None:
    assert parse_webhook(topic, {"id": 1}) is None


def test_ids_are_text_and_blank_skus_are_none() -> None:
    hook = parse_webhook("orders/create", order(7, item(11, "  "), item(12, "B")))
    assert isinstance(hook, SnapshotHook)
    assert hook.order_id == "7"
    assert [(i.id, i.sku) for i in hook.order.line_items] == [("11", None), ("12", "B")]


def test_refund_restock_type_falls_back_to_the_legacy_restock_flag() -> None:
    body = refund(9, 1, (91, 11, 1, "return", None))
    body["refund_line_items"][0]["restock_type"] = None
    hook = parse_webhook("refunds/create", body)
    assert isinstance(hook, RefundHook)
    (line,) = hook.refund.refund_line_items
    assert hook.refund.restock_type(line) == "legacy_restock"
    body["restock"] = False
    hook = parse_webhook("refunds/create", body)
    assert isinstance(hook, RefundHook)
    assert hook.refund.restock_type(hook.refund.refund_line_items[0]) == "no_restock"
