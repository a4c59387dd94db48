"""Fulfillment orders moved to where routing placed the units (ADR 0035).

``order.routed`` (order-consumer, on orders.v1) says where a routed store's lines were
placed; a later one with ``follow_up`` adds units placed since. Each is recorded per order
(``sync:routed:{<shop>}:<order>``, field ``<line>|<location>|<part>``: setting a field again
is harmless, so a redelivery records nothing twice), the order's open fulfillment orders are
read, and each surplus Shopify assigned elsewhere is moved to where routing placed it with
``fulfillmentOrderMove`` (planned in :mod:`shopify_sync.domain.fulfillment_moves`). A
redelivered event plans from what Shopify shows now: nothing is moved twice. A move Shopify
refuses is a poison message naming Shopify's reason (dead-lettered for the merchant); the
other moves of the order are made first. Moving a fulfillment order moves the order's
committed units in Shopify, so the store's counts at both locations are re-checked against
truth afterwards (``resync``: a targeted reconciliation of the moved SKUs).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters.fulfillment_documents import (
    FULFILLMENT_ORDER_LINES_PAGE,
    FULFILLMENT_ORDER_LINES_PAGE_COST,
    FULFILLMENT_ORDER_MOVE,
    FULFILLMENT_ORDER_MOVE_COST,
    FULFILLMENT_ORDERS_FIRST,
    MOVE_LINES_FIRST,
    ORDER_FULFILLMENT_ORDERS_FOR_MOVE,
    ORDER_FULFILLMENT_ORDERS_FOR_MOVE_COST,
)
from shopify_sync.adapters.redis_state import text
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.domain.fulfillment_moves import Move, plan_moves
from stocksync_common.consumer import PoisonMessage
from stocksync_common.events import Order
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
RECORD_TTL_S = 90 * 24 * 3600
Resync = Callable[[str, Sequence[str]], Awaitable[object]]


async def fulfillment_orders_of(
    client: ShopifyClient, store: Store, order_id: str, document: str, lines: int, cost: float
) -> list[dict[str, Any]]:
    """The order's fulfillment orders as ``document`` reads them (its operation's name is the
    document's); an order the store does not have is a poison message."""
    variables = {
        "id": f"gid://shopify/Order/{order_id}",
        "first": FULFILLMENT_ORDERS_FIRST,
        "lines": lines,
    }
    operation = document.split("(", 1)[0].split()[-1]
    data = await client.execute(store, document, variables, operation=operation, cost=cost)
    order = data.get("order")
    if not order:
        raise PoisonMessage(f"{store.shop} has no order {order_id}")
    nodes: list[dict[str, Any]] = (order.get("fulfillmentOrders") or {}).get("nodes") or []
    return nodes


def next_page(connection: dict[str, Any]) -> str | None:
    """The cursor to read on from, None on the last page."""
    info = connection.get("pageInfo") or {}
    return str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None


def routed_key(shop: str, order_id: str) -> str:
    return f"sync:routed:{{{shop}}}:{order_id}"


@dataclass
class FulfillmentOrderMover:
    stores: StoresConfig
    client: ShopifyClient
    redis: Redis
    resync: Resync | None = None

    async def on_routed(self, order: Order) -> int:
        """Record the placements, move what Shopify assigned elsewhere; the moves made."""
        store = self.stores.by_shop(order.shop)
        if store is None:
            log.warning("order.routed for an unknown shop", extra={"shop": order.shop})
            return 0
        key = routed_key(order.shop, order.order_id)
        part = order.follow_up or "-"
        fields = {
            f"{line.line_id}|{line.location}|{part}": f"{line.quantity}|{line.sku or ''}"
            for line in order.lines
        }
        if fields:
            await self.redis.hset(key, mapping=fields)  # type: ignore[arg-type]
            await self.redis.expire(key, RECORD_TTL_S)
        wanted, skus = self.wanted(store, await self.redis.hgetall(key))
        if not wanted:
            return 0
        moves = plan_moves(await self._fulfillment_orders(store, order.order_id), wanted)
        refused = [r for r in [await self._move(store, m) for m in moves] if r]
        made = len(moves) - len(refused)
        if made and self.resync is not None:
            await self.resync(store.shop, sorted(skus))
        log.info("fulfillment orders moved", extra={"order": order.order_id, "moves": made})
        if refused:
            raise PoisonMessage(f"fulfillmentOrderMove refused on {store.shop}: {refused}")
        return made

    @staticmethod
    def wanted(
        store: Store, recorded: dict[Any, Any]
    ) -> tuple[dict[str, dict[str, int]], set[str]]:
        """Per order line gid, units per Shopify location gid (internal locations the store
        does not map are left out); and the SKUs."""
        wanted: dict[str, dict[str, int]] = {}
        skus: set[str] = set()
        for field, value in recorded.items():
            line, location, _part = text(field).split("|", 2)
            units, sku = text(value).split("|", 1)
            target = store.locations.get(location)
            if target is None:
                continue
            places = wanted.setdefault(f"gid://shopify/LineItem/{line}", {})
            places[target] = places.get(target, 0) + int(units)
            if sku:
                skus.add(sku)
        return wanted, skus

    async def _fulfillment_orders(self, store: Store, order_id: str) -> list[dict[str, Any]]:
        """Every fulfillment order of the order with every line: a page of fulfillment
        orders at a time, and each one's lines beyond its first page read on from there."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            variables = {"id": f"gid://shopify/Order/{order_id}", "after": after,
                         "first": FULFILLMENT_ORDERS_FIRST, "lines": MOVE_LINES_FIRST}  # fmt: skip
            data = await self.client.execute(
                store, ORDER_FULFILLMENT_ORDERS_FOR_MOVE, variables,
                operation="OrderFulfillmentOrdersForMove",
                cost=ORDER_FULFILLMENT_ORDERS_FOR_MOVE_COST,
            )  # fmt: skip
            order = data.get("order")
            if not order:
                raise PoisonMessage(f"{store.shop} has no order {order_id}")
            page = order.get("fulfillmentOrders") or {}
            for fo in page.get("nodes") or []:
                await self._rest_of_lines(store, fo)
                found.append(fo)
            after = next_page(page)
            if after is None:
                return found

    async def _rest_of_lines(self, store: Store, fo: dict[str, Any]) -> None:
        """Append to ``fo``'s lines the pages after its first."""
        lines = fo.setdefault("lineItems", {})
        nodes = lines.setdefault("nodes", [])
        after = next_page(lines)
        while after is not None:
            variables = {"id": fo["id"], "first": MOVE_LINES_FIRST, "after": after}
            data = await self.client.execute(
                store, FULFILLMENT_ORDER_LINES_PAGE, variables,
                operation="FulfillmentOrderLinesPage", cost=FULFILLMENT_ORDER_LINES_PAGE_COST,
            )  # fmt: skip
            page = (data.get("fulfillmentOrder") or {}).get("lineItems") or {}
            nodes += page.get("nodes") or []
            after = next_page(page)

    async def _move(self, store: Store, move: Move) -> list[Any]:
        """The user errors Shopify refused the move with ([] when it was made)."""
        data = await self.client.execute(
            store, FULFILLMENT_ORDER_MOVE, move.variables(),
            operation="MoveFulfillmentOrder", cost=FULFILLMENT_ORDER_MOVE_COST,
        )  # fmt: skip
        errors: list[Any] = (data.get("fulfillmentOrderMove") or {}).get("userErrors") or []
        if errors:
            log.warning("fulfillment order move refused", extra={
                "shop": store.shop, "fulfillment_order": move.fulfillment_order,
                "location": move.location, "errors": errors})  # fmt: skip
        return errors
