"""A small async client for Shopify's GraphQL Admin API, paced by the cost bucket it reports."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter, Gauge

from stocksync_common.stores import Store

log = logging.getLogger(__name__)

THROTTLED = Counter("stocksync_shopify_throttled_total", "THROTTLED answers, per shop.", ["shop"])
BUCKET = Gauge(
    "stocksync_shopify_bucket_available", "Cost points available in the shop's bucket.", ["shop"]
)
CALLS = Counter(
    "stocksync_shopify_calls_total", "GraphQL calls by shop and outcome.", ["shop", "outcome"]
)


class ShopifyError(Exception):
    """A transient failure talking to Shopify (5xx, timeout, repeated throttling)."""


@dataclass
class Bucket:
    """What the last response said of the shop's leaky bucket."""

    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 50.0
    at: float = field(default_factory=time.monotonic)

    def now_available(self) -> float:
        return min(self.maximum, self.available + (time.monotonic() - self.at) * self.restore_rate)

    def wait_for(self, cost: float) -> float:
        return max(0.0, (min(cost, self.maximum) - self.now_available()) / self.restore_rate)

    def update(self, status: dict[str, Any]) -> None:
        self.maximum = float(status.get("maximumAvailable", self.maximum))
        self.available = float(status.get("currentlyAvailable", self.available))
        self.restore_rate = float(status.get("restoreRate", self.restore_rate)) or 1.0
        self.at = time.monotonic()


@dataclass
class ShopifyClient:
    http: httpx.AsyncClient
    max_throttle_retries: int = 5
    buckets: dict[str, Bucket] = field(default_factory=dict)

    async def execute(
        self, store: Store, document: str, variables: dict[str, Any], cost_hint: float = 10.0
    ) -> dict[str, Any]:
        bucket = self.buckets.setdefault(store.shop, Bucket())
        for _ in range(self.max_throttle_retries + 1):
            await asyncio.sleep(bucket.wait_for(cost_hint))
            body = await self._post(store, document, variables)
            status = (body.get("extensions") or {}).get("cost", {}).get("throttleStatus")
            if status:
                bucket.update(status)
                BUCKET.labels(store.shop).set(bucket.available)
            if _throttled(body):
                THROTTLED.labels(store.shop).inc()
                cost_hint = max(cost_hint, _requested_cost(body, cost_hint))
                continue
            if body.get("errors"):
                CALLS.labels(store.shop, "error").inc()
                raise ShopifyError(f"GraphQL errors from {store.shop}: {body['errors']}")
            CALLS.labels(store.shop, "ok").inc()
            data: dict[str, Any] = body.get("data") or {}
            return data
        raise ShopifyError(f"{store.shop} kept answering THROTTLED")

    async def _post(self, store: Store, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-Shopify-Access-Token": store.access_token.get_secret_value()}
        try:
            resp = await self.http.post(
                store.graphql_url, json={"query": document, "variables": variables}, headers=headers
            )
        except httpx.HTTPError as exc:
            CALLS.labels(store.shop, "transport").inc()
            raise ShopifyError(f"{store.shop}: {type(exc).__name__}") from exc
        if resp.status_code == 429:
            return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404):
            CALLS.labels(store.shop, f"http_{resp.status_code}").inc()
            raise ShopifyError(f"{store.shop}: HTTP {resp.status_code}")
        doc: dict[str, Any] = resp.json()
        return doc


def _throttled(body: dict[str, Any]) -> bool:
    return any(
        (e.get("extensions") or {}).get("code") == "THROTTLED" for e in body.get("errors") or []
    )


def _requested_cost(body: dict[str, Any], default: float) -> float:
    cost = (body.get("extensions") or {}).get("cost") or {}
    return float(cost.get("requestedQueryCost", default))
