"""Checks on what a sync wrote to the Shopify simulator, from its write log
(``GET /_sim/storefront/writes``: every ``inventorySetQuantities`` quantity and
``inventoryAdjustQuantities`` change with the store's count it met, the
``changeFromQuantity`` sent and its outcome)."""

from __future__ import annotations

from typing import Any


def quantities(writes: list[dict[str, Any]], skus: set[str] | None = None) -> list[dict[str, Any]]:
    """Every logged quantity (of ``skus`` only, when given), with its write's shop and time."""
    return [
        {**q, "shop": w["shop"], "at": w["at"]}
        for w in writes
        for q in w["quantities"]
        if skus is None or q["sku"] in skus
    ]


def compare_and_set_violations(writes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Applied quantities that were not a compare-and-set against the store's count at that
    moment: ``changeFromQuantity`` null (the check skipped) or not the count the store had.
    A relative lowering (an ``inventoryAdjustQuantities`` change with a negative ``delta``)
    needs none: whatever the store sold meanwhile, it only takes units off (ADR 0044); a
    relative raise does."""
    return [
        q
        for q in quantities(writes)
        if q["outcome"] == "applied"
        and not (q.get("delta") is not None and q["delta"] < 0)
        and (q["change_from"] is None or q["change_from"] != q["store_count"])
    ]
