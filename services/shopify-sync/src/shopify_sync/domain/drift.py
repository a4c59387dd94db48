"""Comparing a store with truth: which levels drifted, and the mismatch rate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.domain.quantities import ItemKey, Pending, desired_from_levels
from stocksync_common.events import SkuLevels
from stocksync_common.stores import Store


@dataclass(frozen=True)
class Drift:
    key: ItemKey
    version: int
    desired: int
    found: int
    pending: Pending  # the correction, with what truth knew of each shop's sales


@dataclass
class StoreReport:
    shop: str
    compared: int = 0
    drift: list[Drift] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # truth has it, the store does not list it
    unstocked: int = 0  # listed, but not stocked at a mapped location truth tracks
    unknown_to_truth: int = 0  # the store lists it, truth does not know it

    @property
    def mismatched(self) -> int:
        return len(self.drift)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatched / self.compared if self.compared else 0.0

    def corrections(self) -> dict[ItemKey, Pending]:
        return {d.key: d.pending for d in self.drift}

    def summary(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "mismatched": self.mismatched,
            "mismatch_rate": round(self.mismatch_rate, 6),
            "missing_in_store": len(self.missing),
            "unstocked": self.unstocked,
            "unknown_to_truth": self.unknown_to_truth,
            "examples": [
                {"sku": d.key[0], "location": d.key[1], "truth": d.desired, "store": d.found}
                for d in self.drift[:20]
            ],
        }


def compare(
    store: Store,
    truth: Mapping[str, SkuLevels],
    listed: set[str],
    levels: Mapping[ItemKey, int | None],
) -> StoreReport:
    """``levels``: what the store shows per (SKU, location) it stocks (None: not stocked)."""
    report = StoreReport(store.shop)
    for sku, lv in truth.items():
        if sku not in listed:
            report.missing.append(sku)
            continue
        for location in store.locations:
            pending = desired_from_levels(lv, store.shop, location)
            if pending is None:
                continue
            desired = pending.quantity
            found = levels.get((sku, location))
            if found is None:
                report.unstocked += 1
                continue
            report.compared += 1
            if found != desired:
                report.drift.append(Drift((sku, location), lv.version, desired, found, pending))
    report.unknown_to_truth = len(listed - truth.keys())
    return report


def overall(reports: Mapping[str, StoreReport]) -> dict[str, Any]:
    compared = sum(r.compared for r in reports.values())
    mismatched = sum(r.mismatched for r in reports.values())
    return {
        "compared": compared,
        "mismatched": mismatched,
        "mismatch_rate": round(mismatched / compared, 6) if compared else 0.0,
    }
