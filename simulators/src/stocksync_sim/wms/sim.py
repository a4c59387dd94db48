"""The simulator's state: settings, fulfilment orders, stock, the guard and webhook deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stocksync_sim.delivery import Deliverer, Delivery, RetryPolicy
from stocksync_sim.wms.events import wms_signature
from stocksync_sim.wms.guard import Guard, RateLimit
from stocksync_sim.wms.orders import OrderBook
from stocksync_sim.wms.stock import StockBook

DEV_API_KEY = "dev-wms-api-key"  # noqa: S105 - the simulator's default, for local runs


@dataclass(frozen=True)
class WmsSettings:
    webhook_url: str
    secret: str
    warehouse_id: str = "WH1"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    api_key: str = DEV_API_KEY
    rate_limit_per_s: float = 50.0


class WmsSim:
    def __init__(self, settings: WmsSettings) -> None:
        self.settings = settings
        self.events: dict[str, Delivery] = {}
        self.deliverer: Deliverer | None = None
        self.orders = OrderBook()
        self.stock = StockBook()
        self.guard = Guard(settings.api_key, limit=RateLimit(settings.rate_limit_per_s))

    def delivery(self, event: dict[str, Any]) -> Delivery:
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-WMS-Signature": wms_signature(self.settings.secret, body),
            "X-WMS-Event-Id": event["event_id"],
            "X-WMS-Event-Type": event["event_type"],
        }
        meta = {"event": event}
        return Delivery(event["event_id"], self.settings.webhook_url, headers, body, meta)

    def require_deliverer(self) -> Deliverer:
        if self.deliverer is None:
            raise RuntimeError("simulator not started: run the app with its lifespan")
        return self.deliverer
