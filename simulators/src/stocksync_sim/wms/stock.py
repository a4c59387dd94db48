"""What the warehouse holds: moved by every event it emits, read as a full snapshot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from stocksync_sim.delivery import rfc3339, utc_now


@dataclass
class StockBook:
    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)

    def apply(self, event: dict[str, Any]) -> None:
        """Move stock as the event says: counts set, adjustments add, shipments take."""
        kind = event["event_type"]
        for line in event["lines"]:
            place = (line["sku"], line["location"])
            qty = int(line["quantity"])
            if kind == "cycle_count":
                self.on_hand[place] = qty
            elif kind == "shipment":
                self.on_hand[place] = self.on_hand.get(place, 0) - abs(qty)
            elif kind == "receipt":
                self.on_hand[place] = self.on_hand.get(place, 0) + abs(qty)
            else:
                self.on_hand[place] = self.on_hand.get(place, 0) + qty

    def set(self, sku: str, location: str, on_hand: int) -> None:
        self.on_hand[(sku, location)] = on_hand

    def snapshot(self, warehouse_id: str, allocated: dict[tuple[str, str], int]) -> dict[str, Any]:
        """Every SKU and location with its on-hand (and units on open orders), as of now."""
        places = sorted(set(self.on_hand) | set(allocated))
        return {
            "snapshot_id": str(uuid.uuid4()),
            "warehouse_id": warehouse_id,
            "as_of": rfc3339(utc_now()),
            "lines": [
                {
                    "sku": sku,
                    "location": location,
                    "on_hand": self.on_hand.get((sku, location), 0),
                    "allocated": allocated.get((sku, location), 0),
                }
                for sku, location in places
            ],
        }
