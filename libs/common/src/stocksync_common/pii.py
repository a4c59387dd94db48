"""Customer data kept off the event log, and masked where people read what is left (#22).

An order's webhook body carries the customer: names, emails, phones, postal addresses,
notes, the browser's IP and user agent, checkout tokens. No consumer reads them: order-
consumer needs the order's ids, lines, quantities, times, locations, fulfilments and refunds
(``order_consumer.domain.payloads``). So the receiver publishes order-family bodies, and the
bodies of topics it parks, with these fields removed at every depth; what remains is what a
consumer reads, plus prices and other fields that name no person. The signature was checked on
the body as received, before this.

The same list masks the dead letters non-admins read (:func:`masked_text`, used by the DLQ
API): a DLQ keeps a record as it arrived, so it may still hold a customer.

The list is of field names as Shopify's REST webhook payloads spell them. ``name`` is not on
it: it is the order's name (``#1001``) or a line's title there; inside an address (which goes
whole) it names a person.
"""

from __future__ import annotations

import json
import re
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


MASK = "[masked]"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# ``'phone': '+1 555'`` or ``"first_name": "Ann"`` in free text (an error message that
# quotes its input, a Python repr)
_FIELD_NAMES = "|".join(sorted(map(re.escape, PII_FIELDS), key=len, reverse=True))
_QUOTED_FIELD = re.compile(
    r"""(?P<key>['"]?(?:""" + _FIELD_NAMES + r""")['"]?\s*[:=]\s*)"""
    r"""(?P<q>['"])(?:\\.|(?!(?P=q)).)*(?P=q)"""
)


def masked(doc: Any) -> Any:
    """``doc`` with the value of every :data:`PII_FIELDS` key replaced by :data:`MASK` at any
    depth, and email addresses in any other string masked too (a new structure)."""
    if isinstance(doc, dict):
        return {k: MASK if k in PII_FIELDS else masked(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [masked(v) for v in doc]
    if isinstance(doc, str):
        return masked_text(doc, withhold=False)
    return doc


def masked_text(text: str, *, withhold: bool = True) -> str:
    """Text with its customer data masked: JSON (an object or array, at any depth, JSON in
    its strings too) field by field; other text with its email addresses and quoted PII
    fields masked, or, with ``withhold``, replaced whole (a body that is not JSON can hold a
    customer anywhere)."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(masked(json.loads(stripped)), ensure_ascii=False)
        except ValueError:
            pass
    if withhold and text:
        return f"[withheld: {len(text.encode())} bytes that are not JSON; admins see them]"
    return _QUOTED_FIELD.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", EMAIL.sub(MASK, text))


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with a PII-named one (``email``, ``X-Customer-Phone`` ...) masked whole and
    email addresses masked in the rest."""
    out = {}
    for name, value in headers.items():
        words = re.split(r"[-_]", name.lower())
        named = any("_".join(words[i:]) in PII_FIELDS for i in range(len(words)))
        out[name] = MASK if named else masked_text(value, withhold=False)
    return out
