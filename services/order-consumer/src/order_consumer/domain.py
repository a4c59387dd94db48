"""Orders to inventory commands: pure rules, no I/O."""

from __future__ import annotations

from typing import Any

from stocksync_common.events import CommandName, InventoryCommand, Order, OrderLine, OrderLineRef
from stocksync_common.stores import Store


class BadOrder(ValueError):
    """The webhook body is not an order we can read."""


def parse_order(store: Store, body: dict[str, Any]) -> Order:
    order_id = body.get("id")
    items = body.get("line_items")
    if order_id is None or not isinstance(items, list):
        raise BadOrder("order has no id or no line_items")
    lines: list[OrderLine] = []
    unmapped: list[str] = []
    for item in items:
        if not isinstance(item, dict) or item.get("id") is None:
            raise BadOrder("line item without id")
        qty = item.get("quantity")
        if not isinstance(qty, int) or qty < 0:
            raise BadOrder(f"line {item['id']}: quantity must be a non-negative integer")
        sku = item.get("sku") or None
        if sku is None:
            unmapped.append(str(item["id"]))
        lines.append(
            OrderLine(
                line_id=str(item["id"]),
                sku=sku,
                quantity=qty,
                location=store.default_location(),
            )
        )
    return Order(
        shop=store.shop,
        order_id=str(order_id),
        name=body.get("name"),
        lines=lines,
        unmapped_lines=unmapped,
    )


def line_commands(order: Order, command: CommandName) -> list[InventoryCommand]:
    """One command per mapped line item, keyed by its source so a replay is a no-op."""
    out = []
    for line in order.lines:
        if line.sku is None or line.quantity == 0:
            continue
        key = f"shopify:{order.shop}:order:{order.order_id}:line:{line.line_id}:{command}"
        out.append(
            InventoryCommand(
                command=command,
                idempotency_key=key,
                sku=line.sku,
                location=line.location,
                quantity=line.quantity,
                order=OrderLineRef(shop=order.shop, order_id=order.order_id, line_id=line.line_id),
            )
        )
    return out
