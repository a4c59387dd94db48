"""Control API for tests and the bench: fault switches, counters, bulk result files,
product edits that send ``products/update`` webhooks, and a fulfillment order's request
status or progress reported (what a fulfillment service or the merchant did to it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from stocksync_sim.shopify.bulk import BulkOperation
from stocksync_sim.shopify.channels import channels, set_channels
from stocksync_sim.shopify.collections import collection_payload, find_collection
from stocksync_sim.shopify.faults import FaultsIn, FaultSpec
from stocksync_sim.shopify.fulfillment import RequestStatus, find_fulfillment_order, set_state
from stocksync_sim.shopify.payloads import product_payload
from stocksync_sim.shopify.runtime import Simulator, get_sim
from stocksync_sim.shopify.state import Product, StoreState
from stocksync_sim.shopify.webhooks import build_delivery

router = APIRouter(prefix="/_sim")
SimDep = Annotated[Simulator, Depends(get_sim)]
Wait = Annotated[bool, Query(description="await the first delivery attempt before answering")]


class ProductEdit(BaseModel):
    sku: str | None = Field(default=None, min_length=1)
    title: str | None = None


class FulfillmentOrderState(BaseModel):
    """What a fulfillment service (its requests) or a merchant (progress) did to it."""

    request_status: RequestStatus | None = None
    progress_reported: bool | None = None


def store_or_404(sim: Simulator, shop: str) -> StoreState:
    """The store ``shop`` names, or a 404 naming it."""
    store = sim.state.stores.get(shop.lower())
    if store is None:
        raise HTTPException(404, f"unknown shop {shop}")
    return store


@router.post("/faults")
async def set_faults(body: FaultsIn, sim: SimDep) -> dict[str, Any]:
    """Replace one store's fault switches (all off: ``{"shop": ...}`` alone)."""
    store = store_or_404(sim, body.shop)
    store.faults.configure(FaultSpec.model_validate(body.model_dump(exclude={"shop"})))
    return {"shop": store.shop, **store.faults.to_json()}


@router.get("/faults")
async def get_faults(sim: SimDep) -> dict[str, Any]:
    return {shop: store.faults.to_json() for shop, store in sim.state.stores.items()}


@router.delete("/faults", status_code=204)
async def clear_faults(sim: SimDep, shop: str | None = None) -> None:
    for store in sim.state.stores.values():
        if shop is None or store.shop == shop.lower():
            store.faults.configure(FaultSpec())


@router.get("/stats")
async def stats(sim: SimDep) -> dict[str, Any]:
    """Per store since start or reset: requests, THROTTLED answers, points charged, ..."""
    return {
        shop: {**store.stats.to_json(), "throttle_status": store.bucket.status()}
        for shop, store in sim.state.stores.items()
    }


@router.get("/bulk/{shop}/{number}.jsonl")
async def bulk_result(shop: str, number: int, sim: SimDep) -> Response:
    """The JSONL result of a completed bulk operation (Shopify serves it from storage)."""
    store = store_or_404(sim, shop)
    op: BulkOperation | None = store.bulk_operations.get(f"gid://shopify/BulkOperation/{number}")
    if op is None or op.status(store.now()) != "COMPLETED":
        raise HTTPException(404, "no such bulk result")
    return Response(op.jsonl, media_type="application/jsonl")


async def notify_product(
    sim: Simulator, store: StoreState, topic: str, product: Product, *, wait: bool = False
) -> None:
    """Send a signed products/* webhook to each address subscribed (or the webhook URL)."""
    await notify(sim, store, topic, product_payload(product, product.updated_at), wait=wait)


async def notify(
    sim: Simulator, store: StoreState, topic: str, body: dict[str, Any], *, wait: bool = False
) -> None:
    """Send a signed webhook of ``topic`` to each address subscribed (or the webhook URL)."""
    for url in sim.webhook_urls(store, topic):
        delivery = build_delivery(store.config, topic, body, url)
        sim.state.deliveries[delivery.id] = delivery
        await sim.require_deliverer().send(delivery, wait_first=wait)


class ScopesIn(BaseModel):
    scopes: list[str]


@router.put("/stores/{shop}/access-scopes")
async def grant_scopes(shop: str, body: ScopesIn, sim: SimDep) -> dict[str, list[str]]:
    """Replace the scopes the app holds (a merchant granting or revoking; reset restores the
    configured ones)."""
    store = store_or_404(sim, shop)
    store.granted_scopes = tuple(body.scopes)
    return {"scopes": list(store.granted_scopes)}


@router.get("/stores/{shop}/webhook-subscriptions")
async def list_subscriptions(shop: str, sim: SimDep) -> list[dict[str, str]]:
    """The app's webhook subscriptions in this store."""
    return [
        {"id": s.id, "topic": s.topic, "uri": s.uri, "format": s.format}
        for s in store_or_404(sim, shop).webhook_subscriptions.values()
    ]


@router.get("/stores/{shop}/products/{sku}/payload")
async def product_body(shop: str, sku: str, sim: SimDep) -> dict[str, Any]:
    """What a products/update webhook about this product carries now."""
    store = store_or_404(sim, shop)
    if sku not in store.products:
        raise HTTPException(404, f"unknown SKU {sku}")
    product = store.products[sku]
    return product_payload(product, product.updated_at)


@router.get("/stores/{shop}/collections/{handle}/payload")
async def collection_body(shop: str, handle: str, sim: SimDep) -> dict[str, Any]:
    """What a collections/update webhook about this collection carries now."""
    found = find_collection(store_or_404(sim, shop), handle=handle)
    if found is None:
        raise HTTPException(404, f"unknown collection {handle}")
    return collection_payload(found)


@router.put("/stores/{shop}/publications")
async def put_publications(shop: str, titles: list[str], sim: SimDep) -> dict[str, str]:
    """The store's sales channels (their titles), replacing the default two."""
    store = store_or_404(sim, shop)
    set_channels(store, titles)
    return channels(store)


@router.patch("/stores/{shop}/products/{sku}")
async def edit_product(
    shop: str, sku: str, edit: ProductEdit, sim: SimDep, wait: Wait = False
) -> dict[str, Any]:
    """A merchant edit (new SKU, title): answers the product, sends ``products/update``."""
    store = store_or_404(sim, shop)
    if sku not in store.products:
        raise HTTPException(404, f"unknown SKU {sku}")
    product = store.products[sku]
    if edit.sku and edit.sku != sku:
        try:
            product = store.rename(sku, edit.sku)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
    if edit.title:
        product.title = edit.title
    product.touch()
    await notify_product(sim, store, "products/update", product, wait=wait)
    return product.to_json()


@router.patch("/stores/{shop}/fulfillment-orders/{number}")
async def fulfillment_order_state(
    shop: str, number: int, body: FulfillmentOrderState, sim: SimDep
) -> dict[str, Any]:
    """Set a fulfillment order's request status or its progress reported (ADR 0035 §3)."""
    store = store_or_404(sim, shop)
    found = find_fulfillment_order(store, f"gid://shopify/FulfillmentOrder/{number}")
    if found is None:
        raise HTTPException(404, f"unknown fulfillment order {number}")
    fo = found[1]
    refused = set_state(fo, body.request_status, body.progress_reported)
    if refused:
        raise HTTPException(409, refused)
    return {"id": fo.id, "status": fo.status, "requestStatus": fo.request_status,
            "progressReported": fo.progress_reported}  # fmt: skip
