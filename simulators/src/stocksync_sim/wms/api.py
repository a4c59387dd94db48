"""The WMS REST API under ``/api/v1``: fulfilment orders and the stock snapshot.

Every call needs ``X-API-Key``; the guard may refuse it first (fault switches, rate limit).
Creating an order is idempotent by ``external_ref``: the same reference answers the order
made the first time (200) instead of creating another (201).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from stocksync_sim.wms.orders import FulfilmentOrder, FulfilmentOrderIn, OrderConflict
from stocksync_sim.wms.sim import WmsSim


def _sim(request: Request) -> WmsSim:
    sim: WmsSim = request.app.state.sim
    return sim


async def sim_of(request: Request) -> WmsSim:
    # async dependencies: FastAPI runs a plain ``def`` one in its thread pool (a thread hop)
    return _sim(request)


async def guarded(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> WmsSim:
    sim = _sim(request)
    sim.guard.check(x_api_key)
    return sim


SimDep = Annotated[WmsSim, Depends(guarded)]
router = APIRouter(prefix="/api/v1", tags=["wms"])


def _order(sim: WmsSim, order_id: str) -> FulfilmentOrder:
    order = sim.orders.find(order_id)
    if order is None:
        raise HTTPException(404, f"no fulfilment order {order_id}")
    return order


@router.post("/fulfillment-orders", response_model=None)
async def create_order(body: FulfilmentOrderIn, sim: SimDep) -> JSONResponse:
    """Create the fulfilment order for ``external_ref``, or answer the existing one."""
    order, created = sim.orders.create(body)
    await sim.guard.after()
    return JSONResponse(order.to_json(), status_code=201 if created else 200)


@router.get("/fulfillment-orders")
async def find_orders(sim: SimDep, external_ref: str | None = None) -> list[dict[str, Any]]:
    """Orders, optionally only the one with ``external_ref``."""
    orders = sim.orders.orders.values()
    return [o.to_json() for o in orders if external_ref in (None, o.external_ref)]


@router.get("/fulfillment-orders/{order_id}")
async def order_status(order_id: str, sim: SimDep) -> dict[str, Any]:
    """One order by its WMS id or external reference."""
    return _order(sim, order_id).to_json()


@router.post("/fulfillment-orders/{order_id}/cancel")
async def cancel_order(order_id: str, sim: SimDep) -> dict[str, Any]:
    """Cancel an order that has not shipped (cancelling twice is fine); 409 once shipped."""
    try:
        order = sim.orders.cancel(_order(sim, order_id))
    except OrderConflict as exc:
        raise HTTPException(409, str(exc)) from None
    await sim.guard.after()
    return order.to_json()


@router.get("/stock-snapshot")
async def stock_snapshot(sim: SimDep) -> dict[str, Any]:
    """The whole warehouse's on-hand as of now (``as_of``), with units on open orders."""
    return sim.stock.snapshot(sim.settings.warehouse_id, sim.orders.allocated())
