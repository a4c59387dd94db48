"""The reference an order carries at the WMS: ``{shop}:{order id}``, and
``{shop}:{order id}+{part}`` for a routed order's follow-up fulfilment order (units placed
after its first ``order.routed``; ADR 0031).

The WMS sends it back as a shipment's ``order_id``, so a shipment finds its store's order
without any lookup (shop domains never contain a colon; Shopify order ids are numbers).
"""

from __future__ import annotations


def order_ref(shop: str, order_id: str) -> str:
    return f"{shop}:{order_id}"


def follow_up_ref(shop: str, order_id: str, part: str) -> str:
    return f"{order_ref(shop, order_id)}+{part}"


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``(shop, order id)`` of a reference we made (a follow-up's too); None for one we
    did not."""
    shop, sep, order_id = ref.rpartition(":")
    order_id = order_id.partition("+")[0]
    if not sep or not shop or not order_id:
        return None
    return shop, order_id
