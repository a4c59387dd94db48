"""Admin API: the deliveries parked on ``webhooks.parked.v1`` (Shopify topics StockSync does
not handle), as the receiver noted them, for the ops console."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from stocksync_common.auth import AdminDep
from stocksync_common.topics import WEBHOOKS_PARKED

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    responses={401: {"description": "admin bearer token required"}},
)


@router.get("/parked")
async def parked(
    request: Request, _who: AdminDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    """Deliveries parked per Shopify topic, and the newest ``limit`` (shop, Shopify topic,
    webhook id, when, the record's size; never the body)."""
    notes = request.app.state.container.parked
    return {"topic": WEBHOOKS_PARKED, **await notes.recent(limit)}
