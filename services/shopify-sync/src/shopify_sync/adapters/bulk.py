"""Bulk operations: start one, poll it, download its JSONL result.

``bulkOperationRunQuery`` costs one mutation (10 points) however large the store; the result
is a file (JSONL) downloaded without the API token and without cost. Polling costs 1 point.
A bulk mutation uploads its variables (JSONL, one line per call) to a target from
``stagedUploadsCreate`` first, then ``bulkOperationRunMutation`` runs them (10 points).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shopify_sync.adapters.documents import (
    BULK_OPERATION,
    MUTATION_COST,
    RUN_BULK_MUTATION,
    RUN_BULK_QUERY,
    STAGED_UPLOADS_CREATE,
)
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
        return await self._download(store, await self._wait(store, op_id))

    async def run_mutation(
        self, store: Store, mutation: str, variables: Sequence[dict[str, Any]]
    ) -> list[bytes]:
        """Run ``mutation`` once per variables entry as a bulk mutation; the result lines."""
        jsonl = b"".join(json.dumps(v, separators=(",", ":")).encode() + b"\n" for v in variables)
        path = await self._upload(store, jsonl)
        for _ in range(self.busy_retries):
            data = await self.client.execute(
                store, RUN_BULK_MUTATION, {"mutation": mutation, "stagedUploadPath": path},
                operation="RunBulkMutation", cost=MUTATION_COST,
            )  # fmt: skip
            payload: dict[str, Any] = data.get("bulkOperationRunMutation") or {}
            errors = payload.get("userErrors") or []
            if not errors and payload.get("bulkOperation"):
                op_id = str(payload["bulkOperation"]["id"])
                return await self._download(store, await self._wait(store, op_id))
            if {e.get("code") for e in errors} & {"OPERATION_IN_PROGRESS", "LIMIT_REACHED"}:
                await self.sleep(self.poll_s * 4)
                continue
            raise BulkFailed(f"{store.shop}: bulk mutation refused: {errors}")
        raise TransientError(f"{store.shop}: bulk mutations stayed busy")

    async def _upload(self, store: Store, jsonl: bytes) -> str:
        """Upload the variables file; the ``stagedUploadPath`` to run it with."""
        spec = {"resource": "BULK_MUTATION_VARIABLES", "filename": "variables.jsonl",
                "mimeType": "text/jsonl", "httpMethod": "POST"}  # fmt: skip
        data = await self.client.execute(
            store, STAGED_UPLOADS_CREATE, {"input": [spec]}, operation="StagedUploadsCreate",
            cost=MUTATION_COST,
        )  # fmt: skip
        targets = (data.get("stagedUploadsCreate") or {}).get("stagedTargets") or []
        if not targets:
            raise BulkFailed(f"{store.shop}: no staged upload target: {data}")
        params = {str(p["name"]): str(p["value"]) for p in targets[0].get("parameters") or []}
        files = {"file": ("variables.jsonl", jsonl, "text/jsonl")}
        try:
            resp = await self.http.post(str(targets[0]["url"]), data=params, files=files)
        except httpx.HTTPError as exc:
            raise TransientError(f"{store.shop}: staged upload failed") from exc
        if resp.status_code >= 300:
            raise TransientError(f"{store.shop}: staged upload HTTP {resp.status_code}")
        return params["key"]

    async def _download(self, store: Store, url: str | None) -> list[bytes]:
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
