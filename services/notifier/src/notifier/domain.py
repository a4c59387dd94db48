"""Level crossings: alert once when a SKU crosses a threshold, re-arm when it crosses back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stocksync_common.events import StockChange

AlertKind = Literal["out_of_stock", "back_in_stock"]


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    sku: str
    available: int
    version: int

    def text(self) -> str:
        if self.kind == "out_of_stock":
            return f":rotating_light: {self.sku} is out of stock (available {self.available})"
        return f":white_check_mark: {self.sku} is back in stock (available {self.available})"


def crossing(change: StockChange) -> Alert | None:
    before, after = change.sku_available_before, change.sku_available_after
    if before > 0 >= after:
        return Alert("out_of_stock", change.sku, after, change.version)
    if before <= 0 < after:
        return Alert("back_in_stock", change.sku, after, change.version)
    return None
