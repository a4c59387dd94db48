"""The reference an order carries at the WMS: ``{shop}:{order id}``.

The WMS sends it back as a shipment's ``order_id``, so a shipment finds its store's order
without any lookup (shop domains never contain a colon).
"""

from __future__ import annotations


def order_ref(shop: str, order_id: str) -> str:
    return f"{shop}:{order_id}"


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``(shop, order id)`` of a reference we made; None for one we did not."""
    shop, sep, order_id = ref.rpartition(":")
    if not sep or not shop or not order_id:
        return None
    return shop, order_id
