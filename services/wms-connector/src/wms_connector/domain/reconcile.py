"""Comparing the WMS's stock snapshot with truth, per SKU and location.

On-hand is what both sides count: units reserved for orders not yet shipped are still on
the shelf, so they are in the WMS's on-hand and in truth's on-hand alike. A difference in
on-hand is drift. ``in_flight`` shows orders truth holds that the WMS does not know yet
(reserved in truth minus allocated at the WMS): informational, never corrected.
A difference is corrected only after it was seen ``confirm_runs`` times in a row, so an
event still on its way (a shipment the WMS counted but truth has not applied) never
causes a correction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

Place = tuple[str, str]


@dataclass(frozen=True)
class Truth:
    on_hand: int
    reserved: int


@dataclass(frozen=True)
class Line:
    sku: str
    location: str
    wms_on_hand: int
    truth_on_hand: int
    truth_reserved: int
    wms_allocated: int

    @property
    def delta(self) -> int:
        return self.wms_on_hand - self.truth_on_hand

    @property
    def in_flight(self) -> int:
        return max(0, self.truth_reserved - self.wms_allocated)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "delta": self.delta, "in_flight": self.in_flight}


def compare(snapshot_lines: list[dict[str, Any]], truth: dict[Place, Truth | None]) -> list[Line]:
    """Every snapshot line next to truth (a SKU truth does not know counts as 0)."""
    out = []
    for raw in snapshot_lines:
        place = (str(raw["sku"]), str(raw["location"]))
        t = truth.get(place) or Truth(0, 0)
        out.append(
            Line(
                sku=place[0],
                location=place[1],
                wms_on_hand=int(raw["on_hand"]),
                truth_on_hand=t.on_hand,
                truth_reserved=t.reserved,
                wms_allocated=int(raw.get("allocated", 0)),
            )
        )
    return out


@dataclass
class Confirmations:
    """How many runs in a row each place showed the same delta."""

    seen: dict[tuple[str, str, int], int]

    def observe(self, drifted: list[Line]) -> dict[Place, int]:
        """Count this run's drift; the run count per drifted place."""
        current = {(ln.sku, ln.location, ln.delta) for ln in drifted}
        self.seen = {key: self.seen.get(key, 0) + 1 for key in current}
        return {(sku, loc): n for (sku, loc, _), n in self.seen.items()}


def to_correct(lines: list[Line], counts: dict[Place, int], confirm_runs: int) -> list[Line]:
    return [
        ln for ln in lines if ln.delta != 0 and counts.get((ln.sku, ln.location), 0) >= confirm_runs
    ]
