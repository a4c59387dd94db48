"""The first full sync of newly connected stores, as an admin job (kind ``first-sync``):
catalog discovery and a comparison with truth (a reconciliation of those shops), then the
corrections pushed by the lanes until nothing is pending for them. Progress on the job:
``phase`` (discovery, pushing, done) and what is still ``pending`` per shop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shopify_sync.jobs_runner import Report
from shopify_sync.ports import SyncState
from shopify_sync.reconciler import Reconciler

Sleep = Callable[[float], Awaitable[None]]


class FirstSyncTimeout(TimeoutError):
    """Corrections were still pending when the job's time ran out (they stay pending: the
    lanes push them later; a reconciliation shows what differs)."""


@dataclass
class FirstSync:
    reconciler: Reconciler
    state: SyncState
    timeout_s: float = 600.0
    poll_s: float = 0.5
    sleep: Sleep = asyncio.sleep

    async def run(
        self, params: dict[str, Any], _progress: dict[str, Any], report: Report
    ) -> dict[str, Any]:
        shops = list(params.get("shops") or [])
        await report({"phase": "discovery", "shops": shops})
        result = await self.reconciler.run(shops)
        deadline = time.monotonic() + self.timeout_s
        while True:
            pending = {shop: await self.state.pending_count(shop) for shop in shops}
            if not any(pending.values()):
                break
            await report({"phase": "pushing", "shops": shops, "pending": pending,
                          "corrections": result.get("mismatched")})  # fmt: skip
            if time.monotonic() > deadline:
                raise FirstSyncTimeout(f"still pending after {self.timeout_s:.0f}s: {pending}")
            await self.sleep(self.poll_s)
        return {"phase": "done", "shops": shops, "pending": pending, "reconciliation": result}
