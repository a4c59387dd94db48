"""Bulk query operations: start one, poll it, download its JSONL result.

``bulkOperationRunQuery`` costs one mutation (10 points) however large the store; the result
is a file (JSONL) downloaded without the API token and without cost. Polling costs 1 point.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shopify_sync.adapters.documents import BULK_OPERATION, MUTATION_COST, RUN_BULK_QUERY
from shopify_sync.adapters.shopify import ShopifyClient, ShopifyError, TransientError
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class BulkFailed(ShopifyError):
    pass


@dataclass
class BulkRunner:
    client: ShopifyClient
    http: httpx.AsyncClient
    sleep: Sleep
    poll_s: float = 0.25
    timeout_s: float = 600.0
    busy_retries: int = 20

    async def run(self, store: Store, query: str) -> list[bytes]:
        """Run ``query`` as a bulk operation; the JSONL lines of its result."""
        op_id = await self._start(store, query)
        url = await self._wait(store, op_id)
        if url is None:  # an empty result has no file
            return []
        try:
            resp = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise TransientError(f"{store.shop}: bulk result download failed") from exc
        if resp.status_code != 200:
            raise TransientError(f"{store.shop}: bulk result download HTTP {resp.status_code}")
        return resp.content.splitlines()

    async def _start(self, store: Store, query: str) -> str:
        for _ in range(self.busy_retries):
            data = await self.client.execute(
                store, RUN_BULK_QUERY, {"query": query}, operation="RunBulkQuery",
                cost=MUTATION_COST,
            )  # fmt: skip
            payload: dict[str, Any] = data.get("bulkOperationRunQuery") or {}
            errors = payload.get("userErrors") or []
            if not errors and payload.get("bulkOperation"):
                return str(payload["bulkOperation"]["id"])
            codes = {e.get("code") for e in errors}
            if codes & {"OPERATION_IN_PROGRESS", "LIMIT_REACHED"}:
                await self.sleep(self.poll_s * 4)  # another bulk query of ours is running
                continue
            raise BulkFailed(f"{store.shop}: bulk query refused: {errors}")
        raise TransientError(f"{store.shop}: bulk operations stayed busy")

    async def _wait(self, store: Store, op_id: str) -> str | None:
        waited = 0.0
        while waited <= self.timeout_s:
            data = await self.client.execute(
                store, BULK_OPERATION, {"id": op_id}, operation="BulkOperationStatus", cost=1
            )
            node: dict[str, Any] = data.get("node") or {}
            status = node.get("status")
            if status == "COMPLETED":
                url = node.get("url")
                return str(url) if url else None
            if status in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
                raise BulkFailed(f"{store.shop}: bulk operation {status} ({node.get('errorCode')})")
            await self.sleep(self.poll_s)
            waited += self.poll_s
        raise TransientError(f"{store.shop}: bulk operation still running after {self.timeout_s}s")
