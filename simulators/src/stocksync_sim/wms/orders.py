"""The WMS's fulfilment orders: created once per external reference, cancelled, shipped."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from stocksync_sim.delivery import rfc3339, utc_now

OrderStatus = Literal["open", "cancelled", "shipped"]


class OrderLineIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    location: str = "wh-1"


class FulfilmentOrderIn(BaseModel):
    external_ref: str = Field(min_length=1, max_length=128, description="the caller's order id")
    shop: str | None = None
    order_id: str | None = None
    lines: list[OrderLineIn] = Field(min_length=1)


class OrderConflict(Exception):
    """The order's status does not allow the change (e.g. cancelling a shipped order)."""


@dataclass
class FulfilmentOrder:
    id: str
    external_ref: str
    shop: str | None
    order_id: str | None
    lines: list[OrderLineIn]
    status: OrderStatus = "open"
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    tracking_number: str | None = None
    carrier: str | None = None
    shipment_event_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_ref": self.external_ref,
            "shop": self.shop,
            "order_id": self.order_id,
            "status": self.status,
            "created_at": self.created_at,
            "lines": [line.model_dump() for line in self.lines],
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "shipment_event_id": self.shipment_event_id,
        }


@dataclass
class OrderBook:
    orders: dict[str, FulfilmentOrder] = field(default_factory=dict)
    by_ref: dict[str, str] = field(default_factory=dict)
    create_calls: dict[str, int] = field(default_factory=dict)  # per external ref
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def create(self, body: FulfilmentOrderIn) -> tuple[FulfilmentOrder, bool]:
        """The order for ``external_ref``; True when this call created it."""
        ref = body.external_ref
        self.create_calls[ref] = self.create_calls.get(ref, 0) + 1
        existing = self.by_ref.get(ref)
        if existing is not None:
            return self.orders[existing], False
        order = FulfilmentOrder(
            id=f"FO-{next(self._ids):06d}",
            external_ref=ref,
            shop=body.shop,
            order_id=body.order_id,
            lines=list(body.lines),
        )
        self.orders[order.id] = order
        self.by_ref[ref] = order.id
        return order, True

    def find(self, order_id: str) -> FulfilmentOrder | None:
        return self.orders.get(order_id) or self.orders.get(self.by_ref.get(order_id, ""))

    def cancel(self, order: FulfilmentOrder) -> FulfilmentOrder:
        if order.status == "shipped":
            raise OrderConflict(f"{order.id} has shipped")
        order.status = "cancelled"
        return order

    def ship(self, order: FulfilmentOrder, tracking: str, carrier: str) -> FulfilmentOrder:
        if order.status != "open":
            raise OrderConflict(f"{order.id} is {order.status}")
        order.status, order.tracking_number, order.carrier = "shipped", tracking, carrier
        return order

    def allocated(self) -> dict[tuple[str, str], int]:
        """Units on open orders (picked from on-hand when they ship), per SKU and location."""
        out: dict[tuple[str, str], int] = {}
        for order in self.orders.values():
            if order.status == "open":
                for line in order.lines:
                    place = (line.sku, line.location)
                    out[place] = out.get(place, 0) + line.quantity
        return out

    def clear(self) -> None:
        self.orders.clear()
        self.by_ref.clear()
        self.create_calls.clear()
