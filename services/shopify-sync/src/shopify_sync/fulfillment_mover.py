"""Fulfillment orders moved to where routing placed the units (ADR 0035).

``order.routed`` (order-consumer, on orders.v1) says where a routed store's lines were
placed; a later one with ``follow_up`` adds units placed since. Each is recorded per order
(``sync:routed:{<shop>}:<order>``, field ``<line>|<location>|<part>``: setting a field again
is harmless, so a redelivery records nothing twice), the order's open fulfillment orders are
read (every page: :mod:`shopify_sync.fulfillment_orders`), and each surplus Shopify assigned
elsewhere is moved to where routing placed it with ``fulfillmentOrderMove`` (planned in
:mod:`shopify_sync.domain.fulfillment_moves`). A redelivered event plans from what Shopify
shows now: nothing is moved twice. A move Shopify refuses is a poison message naming
Shopify's reason (dead-lettered for the merchant); the other moves of the order are made
first. A move of a fulfillment order a fulfillment service holds (its request status) is
not sent, since Shopify refuses it; it is dead-lettered the same way, naming the request
status, and a replay once the service has let go (a cancellation accepted) moves it (ADR
0035 §3). Moving a fulfillment order moves the order's committed units in Shopify, so the
store's counts at both locations are re-checked against truth afterwards (``resync``: a
targeted reconciliation of the moved SKUs).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters import metrics
from shopify_sync.adapters.fulfillment_documents import (
    FULFILLMENT_ORDER_MOVE,
    FULFILLMENT_ORDER_MOVE_COST,
)
from shopify_sync.adapters.redis_state import text
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.domain.fulfillment_moves import Move, plan_moves
from shopify_sync.fulfillment_orders import every_fulfillment_order
from stocksync_common.consumer import PoisonMessage
from stocksync_common.events import Order
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
RECORD_TTL_S = 90 * 24 * 3600
Resync = Callable[[str, Sequence[str]], Awaitable[object]]


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
        fulfillment_orders = await every_fulfillment_order(self.client, store, order.order_id)
        planned = plan_moves(fulfillment_orders, wanted)
        moves = [m for m in planned if m.held is None]
        held = [self._held(store, m) for m in planned if m.held is not None]
        refused = [r for r in [await self._move(store, m) for m in moves] if r]
        made = len(moves) - len(refused)
        metrics.FULFILLMENT_MOVES.labels(store.shop, "moved").inc(made)
        metrics.FULFILLMENT_MOVES.labels(store.shop, "refused").inc(len(refused))
        if made and self.resync is not None:
            await self.resync(store.shop, sorted(skus))
        log.info("fulfillment orders moved", extra={"order": order.order_id, "moves": made})
        reasons = [f"fulfillmentOrderMove refused on {store.shop}: {refused}"] if refused else []
        if held:
            reasons.append(f"not moved on {store.shop}, held by a fulfillment service: {held}")
        if reasons:
            raise PoisonMessage("; ".join(reasons))
        return made

    @staticmethod
    def _held(store: Store, move: Move) -> str:
        """A move not sent: Shopify refuses moving a fulfillment order while a fulfillment
        service holds it (request status SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED or
        CANCELLATION_REJECTED)."""
        metrics.FULFILLMENT_MOVES.labels(store.shop, "held").inc()
        log.warning("fulfillment order held by a fulfillment service: not moved", extra={
            "shop": store.shop, "fulfillment_order": move.fulfillment_order,
            "location": move.location, "request_status": move.held})  # fmt: skip
        return f"{move.fulfillment_order} ({move.held}) to {move.location}"

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
