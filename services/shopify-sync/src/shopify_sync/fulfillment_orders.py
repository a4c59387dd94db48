"""Every fulfillment order of an order, with every line, read a page at a time.

One reader for both paths that need them: a warehouse shipment's ``fulfillmentCreate``
(:mod:`shopify_sync.fulfillments`, lines matched by SKU) and the moves that follow routing
(:mod:`shopify_sync.fulfillment_mover`, lines matched by order line). A page of fulfillment
orders at a time, each with its first page of lines; a fulfillment order with more lines is
read on with ``fulfillmentOrder(id:)`` (ADR 0035 §6, ADR 0037 §1). An order the store does
not have is a poison message.
"""

from __future__ import annotations

from typing import Any

from shopify_sync.adapters.fulfillment_documents import (
    FULFILLMENT_LINES_FIRST,
    FULFILLMENT_ORDER_LINES_PAGE,
    FULFILLMENT_ORDER_LINES_PAGE_COST,
    FULFILLMENT_ORDERS_FIRST,
    ORDER_FULFILLMENT_ORDERS,
    ORDER_FULFILLMENT_ORDERS_COST,
)
from shopify_sync.adapters.shopify import ShopifyClient
from stocksync_common.consumer import PoisonMessage
from stocksync_common.stores import Store


def next_page(connection: dict[str, Any]) -> str | None:
    """The cursor to read on from, None on the last page."""
    info = connection.get("pageInfo") or {}
    return str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None


async def every_fulfillment_order(
    client: ShopifyClient, store: Store, order_id: str
) -> list[dict[str, Any]]:
    """The order's fulfillment orders, each with all its lines in ``lineItems.nodes``."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        variables = {
            "id": f"gid://shopify/Order/{order_id}",
            "after": after,
            "first": FULFILLMENT_ORDERS_FIRST,
            "lines": FULFILLMENT_LINES_FIRST,
        }
        data = await client.execute(
            store, ORDER_FULFILLMENT_ORDERS, variables,
            operation="OrderFulfillmentOrders", cost=ORDER_FULFILLMENT_ORDERS_COST,
        )  # fmt: skip
        order = data.get("order")
        if not order:
            raise PoisonMessage(f"{store.shop} has no order {order_id}")
        page = order.get("fulfillmentOrders") or {}
        for fo in page.get("nodes") or []:
            await _rest_of_lines(client, store, fo)
            found.append(fo)
        after = next_page(page)
        if after is None:
            return found


async def _rest_of_lines(client: ShopifyClient, store: Store, fo: dict[str, Any]) -> None:
    """Append to ``fo``'s lines the pages after its first."""
    lines = fo.setdefault("lineItems", {})
    nodes = lines.setdefault("nodes", [])
    after = next_page(lines)
    while after is not None:
        variables = {"id": fo["id"], "first": FULFILLMENT_LINES_FIRST, "after": after}
        data = await client.execute(
            store, FULFILLMENT_ORDER_LINES_PAGE, variables,
            operation="FulfillmentOrderLinesPage", cost=FULFILLMENT_ORDER_LINES_PAGE_COST,
        )  # fmt: skip
        page = (data.get("fulfillmentOrder") or {}).get("lineItems") or {}
        nodes += page.get("nodes") or []
        after = next_page(page)
