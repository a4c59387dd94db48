"""Storefront sales for the flash-sale bench: many checkouts in one call, and what they led to.

A sale is refused when the selling store's own count for the SKU is short (what Shopify's
checkout does, whatever the other stores hold); otherwise the store's count goes down and a
signed ``orders/create`` webhook goes out. The sales book keeps every sale with its webhook,
so the bench can read ack latencies and match sales to the inventory writes that followed,
and every refusal with what the other stores still showed for that SKU at that moment (a
buyer turned away while stock existed elsewhere: stock a sync left in the wrong store).
``/writes`` lists every ``inventorySetQuantities`` and ``inventoryAdjustQuantities`` with each
quantity as the store met it.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from stocksync_sim.delivery import Delivery, rfc3339, utc_now
from stocksync_sim.shopify.control import ORDER_ID_BASE
from stocksync_sim.shopify.payloads import OrderLine, order_payload
from stocksync_sim.shopify.runtime import Simulator, get_sim
from stocksync_sim.shopify.state import OrderRefused, StoreState
from stocksync_sim.shopify.webhooks import build_delivery

router = APIRouter(prefix="/_sim/storefront")
SimDep = Annotated[Simulator, Depends(get_sim)]
SET_QUANTITIES = "inventorySetQuantities"
ADJUST_QUANTITIES = "inventoryAdjustQuantities"
WRITES = (SET_QUANTITIES, ADJUST_QUANTITIES)


class SaleIn(BaseModel):
    shop: str = Field(min_length=1)
    sku: str = Field(min_length=1)
    quantity: int = Field(default=1, gt=0)


class SellIn(BaseModel):
    sales: list[SaleIn] = Field(min_length=1, max_length=10_000)


@dataclass(frozen=True)
class Sale:
    shop: str
    sku: str
    quantity: int
    sold_at: float  # wall clock, seconds
    webhook_id: str | None


@dataclass(frozen=True)
class Refusal:
    shop: str
    sku: str
    quantity: int
    at: float  # wall clock, seconds
    own: int  # what the refusing store showed (summed over its locations)
    elsewhere: int  # what every other store showed, summed


@dataclass
class SalesBook:
    sales: list[Sale] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    refusals: list[Refusal] = field(default_factory=list)


def shown(store: StoreState, sku: str) -> int:
    """What a store shows for ``sku``: available over its locations (0 when unknown)."""
    product = store.products.get(sku)
    return sum(level.available for level in product.levels.values()) if product else 0


def refusal(sim: Simulator, store: StoreState, sale: SaleIn) -> Refusal:
    others = (other for other in sim.state.stores.values() if other is not store)
    elsewhere = sum(shown(other, sale.sku) for other in others)
    own = shown(store, sale.sku)
    return Refusal(store.shop, sale.sku, sale.quantity, time.time(), own, elsewhere)


_BOOKS: weakref.WeakKeyDictionary[Simulator, SalesBook] = weakref.WeakKeyDictionary()


def book_of(sim: Simulator) -> SalesBook:
    return _BOOKS.setdefault(sim, SalesBook())


async def _sell_one(sim: Simulator, store: StoreState, sale: SaleIn) -> Sale | None:
    """One checkout: ``None`` when the store's own count is short or the SKU unknown."""
    if sale.sku not in store.products:
        return None
    try:
        allocations = store.allocate([(sale.sku, sale.quantity)], None)
    except OrderRefused:
        return None
    order_number = store.commit_order(allocations)
    order_id = ORDER_ID_BASE + sim.state.next_id()
    lines = [OrderLine(a, sim.state.next_id(), a.product.price) for a in allocations]
    body = order_payload(store, order_id, order_number, lines, rfc3339(utc_now()))
    sold_at = time.time()
    first: str | None = None
    for url in sim.webhook_urls(store, "orders/create"):
        delivery = build_delivery(store.config, "orders/create", body, url)
        sim.state.deliveries[delivery.id] = delivery
        await sim.require_deliverer().send(delivery)
        first = first or delivery.id
    return Sale(store.shop, sale.sku, sale.quantity, sold_at, first)


@router.post("/sell")
async def sell(body: SellIn, sim: SimDep) -> dict[str, int]:
    """Checkouts in order; each either sells (webhook sent) or is refused."""
    book = book_of(sim)
    sold = refused = 0
    for sale in body.sales:
        store = sim.state.stores.get(sale.shop.lower())
        if store is None:
            raise HTTPException(404, f"unknown shop {sale.shop}")
        done = await _sell_one(sim, store, sale)
        if done is None:
            refused += 1
            book.refused[store.shop] += 1
            book.refusals.append(refusal(sim, store, sale))
        else:
            sold += 1
            book.sales.append(done)
    return {"sold": sold, "refused": refused}


def _delivery_json(delivery: Delivery | None) -> dict[str, Any]:
    if delivery is None:
        return {"status": None, "attempts": 0, "ack_ms": None}
    ok = [a for a in delivery.attempts if a.status_code is not None and 200 <= a.status_code < 300]
    return {
        "status": delivery.status,
        "attempts": len(delivery.attempts),
        "ack_ms": ok[0].duration_ms if ok else None,
    }


@router.get("/sales")
async def sales(sim: SimDep) -> dict[str, Any]:
    """Every sale with its webhook's status and ack time, refusals per store, and every
    refusal with the stock the other stores showed then."""
    book = book_of(sim)
    deliveries = sim.state.deliveries
    return {
        "sales": [
            {
                "shop": s.shop,
                "sku": s.sku,
                "quantity": s.quantity,
                "sold_at": s.sold_at,
                "webhook_id": s.webhook_id,
                **_delivery_json(deliveries.get(s.webhook_id or "")),
            }
            for s in book.sales
        ],
        "refused": dict(book.refused),
        "refusals": [asdict(r) for r in book.refusals],
    }


@router.get("/pending")
async def pending(sim: SimDep) -> dict[str, int]:
    """How many sales there are and how many of their webhooks are still being delivered."""
    book, deliveries = book_of(sim), sim.state.deliveries
    waiting = sum(
        1
        for s in book.sales
        if s.webhook_id and getattr(deliveries.get(s.webhook_id), "status", None) == "pending"
    )
    return {"sales": len(book.sales), "pending": waiting}


def _skus_written(store: StoreState, variables: Any) -> list[str]:
    given = (variables or {}).get("input") or {}
    quantities = given.get("quantities") or given.get("changes") or []
    items = (q.get("inventoryItemId") for q in quantities if isinstance(q, dict))
    return [store.by_item[i].sku for i in items if i in store.by_item]


def _write_ok(response: Any) -> bool:
    if not isinstance(response, dict) or response.get("errors"):
        return False
    data = response.get("data") or {}
    results = [data[name] or {} for name in WRITES if name in data]
    return not any(result.get("userErrors") for result in results)


@router.get("/writes")
async def writes(
    sim: SimDep, shop: Annotated[str | None, Query(description="one store only")] = None
) -> list[dict[str, Any]]:
    """Every ``inventorySetQuantities`` and ``inventoryAdjustQuantities`` answered: store,
    when, the SKUs, accepted or not, and each quantity with the store's count it met, the
    ``changeFromQuantity`` sent, the quantity asked (an adjustment's: the count it leaves,
    with its ``delta``) and its outcome (``applied``, ``stale``, ...; see ``QuantityWrite``)."""
    out = []
    for entry in sim.state.requests:
        store = sim.state.stores.get(entry.shop or "")
        if store is None or (shop is not None and store.shop != shop.lower()):
            continue
        if not entry.writes and not any(name in (entry.document or "") for name in WRITES):
            continue
        out.append(
            {
                "shop": store.shop,
                "at": entry.received_at,
                "ok": _write_ok(entry.response),
                "skus": _skus_written(store, entry.variables),
                "quantities": [write.to_json() for write in entry.writes],
            }
        )
    return out


@router.delete("/sales", status_code=204)
async def clear_sales(sim: SimDep) -> None:
    _BOOKS.pop(sim, None)
