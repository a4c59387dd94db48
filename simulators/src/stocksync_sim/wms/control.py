"""The simulator's control API under ``/_sim``: send events, ship orders, set stock and faults."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from stocksync_sim.wms.api import sim_of
from stocksync_sim.wms.events import EventIn, LineIn, build_event, tracking_number
from stocksync_sim.wms.guard import FaultsIn
from stocksync_sim.wms.orders import OrderConflict
from stocksync_sim.wms.sim import WmsSim

Wait = Annotated[bool, Query(description="await the first delivery attempt before answering")]
SimDep = Annotated[WmsSim, Depends(sim_of)]
router = APIRouter(prefix="/_sim", tags=["control"])


class ShipIn(BaseModel):
    tracking_number: str | None = None
    carrier: str = "UPS"


class StockIn(BaseModel):
    sku: str = Field(min_length=1)
    location: str = "wh-1"
    on_hand: int


async def emit(sim: WmsSim, event: EventIn, wait: bool) -> dict[str, Any]:
    body = build_event(event, sim.settings.warehouse_id)
    sim.stock.apply(body)
    delivery = sim.delivery(body)
    sim.events[delivery.id] = delivery
    await sim.require_deliverer().send(delivery, wait_first=wait)
    return delivery.to_json()


@router.post("/events", status_code=201)
async def send_event(event: EventIn, sim: SimDep, wait: Wait = False) -> dict[str, Any]:
    """Emit one signed event (the warehouse's stock moves with it)."""
    return await emit(sim, event, wait)


@router.post("/events/{event_id}/redeliver")
async def redeliver(event_id: str, sim: SimDep, wait: Wait = False) -> dict[str, Any]:
    delivery = sim.events.get(event_id)
    if delivery is None:
        raise HTTPException(404, f"no event {event_id}")
    await sim.require_deliverer().send(delivery, wait_first=wait)
    return delivery.to_json()


@router.get("/events")
async def list_events(sim: SimDep, status: str | None = None) -> list[dict[str, Any]]:
    return [d.to_json() for d in sim.events.values() if status in (None, d.status)]


@router.delete("/events", status_code=204)
async def clear_events(sim: SimDep) -> None:
    sim.events.clear()


@router.post("/fulfillment-orders/{order_id}/ship")
async def ship(order_id: str, body: ShipIn, sim: SimDep, wait: Wait = False) -> dict[str, Any]:
    """Ship an open order: stock leaves, a ``shipment`` webhook carries tracking and lines."""
    order = sim.orders.find(order_id)
    if order is None:
        raise HTTPException(404, f"no fulfilment order {order_id}")
    tracking = body.tracking_number or tracking_number()
    try:
        sim.orders.ship(order, tracking, body.carrier)
    except OrderConflict as exc:
        raise HTTPException(409, str(exc)) from None
    lines = [LineIn(sku=li.sku, quantity=li.quantity, location=li.location) for li in order.lines]
    event = EventIn(
        event_type="shipment",
        lines=lines,
        order_id=order.external_ref,
        tracking_number=tracking,
        carrier=body.carrier,
    )
    delivery = await emit(sim, event, wait)
    order.shipment_event_id = delivery["id"]
    return {"order": order.to_json(), "webhook": delivery}


@router.get("/fulfillment-orders")
async def list_orders(sim: SimDep) -> dict[str, Any]:
    """Every order, and how many create calls each external reference received."""
    return {
        "orders": [o.to_json() for o in sim.orders.orders.values()],
        "create_calls": dict(sim.orders.create_calls),
    }


@router.put("/stock")
async def set_stock(lines: list[StockIn], sim: SimDep) -> dict[str, Any]:
    """Set on-hand directly (no webhook): the warehouse's state before a scenario."""
    for line in lines:
        sim.stock.set(line.sku, line.location, line.on_hand)
    return sim.stock.snapshot(sim.settings.warehouse_id, sim.orders.allocated())


@router.get("/faults")
async def get_faults(sim: SimDep) -> dict[str, Any]:
    return {**sim.guard.faults.to_json(), "refused": dict(sim.guard.refused)}


@router.put("/faults")
async def set_faults(body: FaultsIn, sim: SimDep) -> dict[str, Any]:
    """Arm fault switches: fail the next N requests, answer slowly, go down, tighten limits."""
    sim.guard.faults.update(body)
    if body.rate_limit_per_s is not None:
        sim.guard.limit.per_s = body.rate_limit_per_s
    return {**sim.guard.faults.to_json(), "refused": dict(sim.guard.refused)}


@router.post("/reset", status_code=204)
async def reset(sim: SimDep) -> None:
    """Forget orders, stock, events and faults."""
    sim.orders.clear()
    sim.stock.on_hand.clear()
    sim.events.clear()
    sim.guard.faults.update(FaultsIn(fail_next=0, slow_next=0, down=False))
    sim.guard.refused.clear()
