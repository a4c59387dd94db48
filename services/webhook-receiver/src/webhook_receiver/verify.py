"""Webhook signatures, checked on the raw body in constant time before any parsing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable


def shopify_signature(body: bytes, secret: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body, as Shopify sends in ``X-Shopify-Hmac-Sha256``."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def verify_shopify(body: bytes, header: str | None, secrets: Iterable[bytes]) -> bool:
    if not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    ok = False
    for secret in secrets:  # every secret is tried, so timing does not tell which matched
        ok |= hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).digest(), given)
    return ok


def verify_wms(body: bytes, header: str | None, secrets: Iterable[bytes]) -> bool:
    """Hex HMAC-SHA256 of the raw body in ``X-WMS-Signature``."""
    if not header:
        return False
    try:
        given = bytes.fromhex(header.strip())
    except ValueError:
        return False
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).digest(), given)
    return ok
