"""Signed Shopify webhook deliveries (the real header set, base64 HMAC-SHA256 of the body)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from stocksync_sim.delivery import Delivery, utc_now
from stocksync_sim.shopify.config import StoreConfig


def shopify_hmac(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def triggered_at() -> str:
    return utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_delivery(
    store: StoreConfig,
    topic: str,
    payload: dict[str, Any],
    url: str,
    *,
    secret: str | None = None,
) -> Delivery:
    """A webhook ready to send; ``secret`` overrides the store's current webhook secret."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    webhook_id = str(uuid.uuid4())
    event_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_hmac(secret or store.webhook_secret, body),
        "X-Shopify-Shop-Domain": store.shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": triggered_at(),
        "X-Shopify-API-Version": store.api_version,
    }
    meta = {"shop": store.shop, "topic": topic, "webhook_id": webhook_id, "event_id": event_id}
    return Delivery(id=webhook_id, url=url, headers=headers, body=body, meta=meta)
