"""Control API under ``/_sim/``: seed products, read inventory and requests, place orders,
inspect and redeliver webhooks, tweak the cost bucket or cut its limits, reset."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.process import settle_seeded
from stocksync_sim.shopify.catalog import apply_fields
from stocksync_sim.shopify.control_ops import notify_product, store_or_404
from stocksync_sim.shopify.fulfillment import record_order
from stocksync_sim.shopify.payloads import OrderLine, order_payload
from stocksync_sim.shopify.runtime import Simulator, get_sim
from stocksync_sim.shopify.state import OrderRefused, StoreState, UnknownSku
from stocksync_sim.shopify.webhooks import build_delivery

LOCATION_GID = re.compile(r"^gid://shopify/Location/\d+$")

# Order ids never repeat across simulator restarts, as in a real shop: StockSync keeps
# per-order state, and a reused id would look like a redelivery of an old order.
ORDER_ID_BASE = 5_000_000_000_000 + int(time.time()) * 1000

router = APIRouter(prefix="/_sim")
SimDep = Annotated[Simulator, Depends(get_sim)]
Wait = Annotated[bool, Query(description="await the first delivery attempt before answering")]


class ProductSeed(BaseModel):
    sku: str = Field(min_length=1)
    quantities: dict[str, int] = Field(default_factory=dict)
    title: str | None = None
    price: str | None = None
    # Catalog fields in productSet's input shape (descriptionHtml, vendor, productType,
    # status, tags, files, metafields, handle).
    catalog: dict[str, Any] | None = None


class OrderLineIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    price: str | None = None


class OrderIn(BaseModel):
    line_items: list[OrderLineIn] = Field(min_length=1)
    order_id: int | None = Field(default=None, gt=0)
    location_id: str | None = None
    sign_with: Literal["current", "previous"] = "current"


class BucketIn(BaseModel):
    currently_available: float = Field(ge=0)


class LimitsIn(BaseModel):
    """Reduced limits, e.g. 10 points/s and a 200-point bucket."""

    restore_rate: float = Field(gt=0)
    maximum_available: float = Field(gt=0)


def _location(store: StoreState, value: str) -> str:
    """A location gid, or an internal location id from the stores file mapped to its gid."""
    if value in store.config.locations:
        return store.config.locations[value]
    if not LOCATION_GID.match(value):
        raise HTTPException(422, f"not a location gid or configured location id: {value}")
    return value


@router.get("/stores")
async def list_stores(sim: SimDep) -> list[dict[str, Any]]:
    return [
        {
            "shop": store.shop,
            "role": store.config.role,
            "plan": store.config.plan,
            "api_version": store.config.api_version,
            "locations": store.config.locations,
            "products": len(store.products),
            "throttle_status": store.bucket.status(),
            "limits_reduced": store.bucket.reduced,
        }
        for store in sim.state.stores.values()
    ]


@router.post("/stores/{shop}/products", status_code=201)
async def seed_products(
    shop: str,
    seeds: list[ProductSeed],
    sim: SimDep,
    notify: Annotated[bool, Query(description="send products/create or /update")] = False,
) -> list[dict[str, Any]]:
    store = store_or_404(sim, shop)
    resolved = [
        (seed, {_location(store, loc): qty for loc, qty in seed.quantities.items()})
        for seed in seeds
    ]
    out = []
    for seed, quantities in resolved:
        topic = "products/update" if seed.sku in store.products else "products/create"
        product = store.upsert_product(seed.sku, quantities, seed.title, seed.price)
        if seed.catalog:
            apply_fields(product, seed.catalog)
            store.index(product.info)
        product.touch()
        if notify:
            await notify_product(sim, store, topic, product)
        out.append(product.to_json())
    settle_seeded()
    return out


@router.get("/stores/{shop}/products")
async def list_products(shop: str, sim: SimDep) -> list[dict[str, Any]]:
    return [product.to_json() for product in store_or_404(sim, shop).search(None)]


@router.get("/stores/{shop}/inventory")
async def inventory(shop: str, sim: SimDep) -> dict[str, dict[str, int]]:
    return store_or_404(sim, shop).inventory()


@router.put("/stores/{shop}/bucket")
async def set_bucket(shop: str, body: BucketIn, sim: SimDep) -> dict[str, float | int]:
    store = store_or_404(sim, shop)
    store.bucket.set_available(body.currently_available)
    return store.bucket.status()


@router.put("/stores/{shop}/limits")
async def cut_limits(shop: str, body: LimitsIn, sim: SimDep) -> dict[str, float | int]:
    """Cut the store's limits (as Shopify may for a while) until they are restored; a query
    costing more than the smaller bucket is refused with MAX_COST_EXCEEDED."""
    store = store_or_404(sim, shop)
    store.bucket.cut(body.maximum_available, body.restore_rate)
    return store.bucket.status()


@router.delete("/stores/{shop}/limits")
async def restore_limits(shop: str, sim: SimDep) -> dict[str, float | int]:
    """The plan's limits again (a reset restores them too)."""
    store = store_or_404(sim, shop)
    store.bucket.restore()
    return store.bucket.status()


@router.post("/stores/{shop}/orders", status_code=201, response_model=None)
async def place_order(
    shop: str, order: OrderIn, sim: SimDep, wait: Wait = False
) -> dict[str, Any] | JSONResponse:
    """A storefront checkout: refuses when this store's own stock is short (409),
    otherwise decrements it and sends a signed ``orders/create`` webhook."""
    store = store_or_404(sim, shop)
    location = _location(store, order.location_id) if order.location_id else None
    secret = store.config.webhook_secret
    if order.sign_with == "previous":
        if not store.config.webhook_secret_previous:
            raise HTTPException(422, "store has no webhook_secret_previous")
        secret = store.config.webhook_secret_previous
    urls = sim.webhook_urls(store, "orders/create")
    deliverer = sim.require_deliverer() if urls else None  # before the stock is changed
    try:
        allocations = store.allocate([(li.sku, li.quantity) for li in order.line_items], location)
    except UnknownSku as exc:
        raise HTTPException(422, str(exc)) from None
    except OrderRefused as exc:
        shortages = [vars(shortage) for shortage in exc.shortages]
        return JSONResponse({"error": "insufficient stock", "shortages": shortages}, 409)
    prices = {li.sku: li.price for li in order.line_items if li.price}
    order_number = store.commit_order(allocations)
    order_id = order.order_id or ORDER_ID_BASE + sim.state.next_id()
    lines = [
        OrderLine(a, sim.state.next_id(), prices.get(a.product.sku) or a.product.price)
        for a in allocations
    ]
    record_order(store, order_id, order_number, lines)
    body = order_payload(store, order_id, order_number, lines, rfc3339(utc_now()), location)
    result: dict[str, Any] = {"order": body, "webhook": None}
    for url in urls:
        assert deliverer is not None  # noqa: S101 - required above when there is a url
        delivery = build_delivery(store.config, "orders/create", body, url, secret=secret)
        sim.state.deliveries[delivery.id] = delivery
        await deliverer.send(delivery, wait_first=wait)
        result["webhook"] = result["webhook"] or delivery.to_json()
    return result


@router.get("/webhooks")
async def list_webhooks(
    sim: SimDep, shop: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    return [
        delivery.to_json()
        for delivery in sim.state.deliveries.values()
        if (shop is None or delivery.meta.get("shop") == shop.lower())
        and (status is None or delivery.status == status)
    ]


@router.post("/stores/{shop}/webhooks/{webhook_id}/redeliver")
async def redeliver(shop: str, webhook_id: str, sim: SimDep, wait: Wait = False) -> dict[str, Any]:
    """Send the exact same delivery again: same body, same ``X-Shopify-Webhook-Id``."""
    delivery = sim.state.deliveries.get(webhook_id)
    if delivery is None or delivery.meta.get("shop") != shop.lower():
        raise HTTPException(404, f"no webhook {webhook_id} for shop {shop}")
    await sim.require_deliverer().send(delivery, wait_first=wait)
    return delivery.to_json()


@router.get("/requests")
async def list_requests(
    sim: SimDep, shop: str | None = None, operation_name: str | None = None
) -> list[dict[str, Any]]:
    return [
        entry.to_json()
        for entry in sim.state.requests
        if (shop is None or entry.shop == shop.lower())
        and (operation_name is None or entry.operation_name == operation_name)
    ]


@router.delete("/requests", status_code=204)
async def clear_requests(sim: SimDep) -> None:
    sim.state.requests.clear()


@router.post("/reset", status_code=204)
async def reset(sim: SimDep) -> None:
    """Forget products, levels, idempotency keys, requests and webhooks; refill buckets."""
    sim.state.reset()
