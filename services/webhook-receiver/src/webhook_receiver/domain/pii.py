"""Customer data kept off the event log (#22).

An order's webhook body carries the customer: names, emails, phones, postal addresses,
notes, the browser's IP and user agent, checkout tokens. No consumer reads them: order-
consumer needs the order's ids, lines, quantities, times, locations, fulfilments and refunds
(``order_consumer.domain.payloads``). So the receiver publishes order-family bodies, and the
bodies of topics it parks, with these fields removed at every depth; what remains is what a
consumer reads, plus prices and other fields that name no person. The signature was checked on
the body as received, before this.

The list is of field names as Shopify's REST webhook payloads spell them. ``name`` is not on
it: it is the order's name (``#1001``) or a line's title there; inside an address (which goes
whole) it names a person.
"""

from __future__ import annotations

from typing import Any

PII_FIELDS: frozenset[str] = frozenset(
    {
        # who bought
        "customer",
        "email",
        "contact_email",
        "phone",
        "sms_marketing_phone",
        "first_name",
        "last_name",
        "company",
        "buyer_accepts_marketing",
        "customer_locale",
        # where to
        "billing_address",
        "shipping_address",
        "destination",
        "origin_address",
        "default_address",
        "addresses",
        "address1",
        "address2",
        "zip",
        "latitude",
        "longitude",
        # what they wrote, and where they came from
        "note",
        "note_attributes",
        "properties",
        "browser_ip",
        "client_details",
        "landing_site",
        "landing_site_ref",
        "referring_site",
        # what would let someone act as them
        "token",
        "cart_token",
        "checkout_token",
        "order_status_url",
        "payment_details",
    }
)


def without_pii(doc: Any) -> tuple[Any, int]:
    """``doc`` with every :data:`PII_FIELDS` key removed at any depth (a new structure), and
    how many were removed."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        removed = 0
        for key, value in doc.items():
            if key in PII_FIELDS:
                removed += 1
                continue
            out[key], n = without_pii(value)
            removed += n
        return out, removed
    if isinstance(doc, list):
        items = [without_pii(v) for v in doc]
        return [v for v, _ in items], sum(n for _, n in items)
    return doc, 0
