"""Webhook signatures, checked on the raw body in constant time before any parsing.

The expected signature is computed and compared as text, the way Shopify's own library does
(``shopify_app.verify_webhook_req``), so exactly one header value is accepted per secret:
no alternative base64 spellings, no stray whitespace. Every secret is tried, so timing does
not tell which one matched during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def _digest(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def _given(header: str) -> bytes:
    # Header values arrive as latin-1 text; any other character cannot match anyway.
    return header.encode("utf-8", "surrogatepass")


def shopify_signature(body: bytes, secret: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body, as Shopify sends in ``X-Shopify-Hmac-Sha256``."""
    return base64.b64encode(_digest(secret, body)).decode()


def wms_signature(body: bytes, secret: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body, as the WMS sends in ``X-WMS-Signature``."""
    return _digest(secret, body).hex()


def verify_shopify(body: bytes, header: str | None, secrets: Iterable[bytes]) -> bool:
    if not header:
        return False
    given = _given(header)
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(base64.b64encode(_digest(secret, body)), given)
    return ok


def verify_wms(body: bytes, header: str | None, secrets: Iterable[bytes]) -> bool:
    """Hex HMAC-SHA256 of the raw body in ``X-WMS-Signature`` (either case)."""
    if not header or not header.isascii():
        return False
    given = header.lower().encode()
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(_digest(secret, body).hex().encode(), given)
    return ok
