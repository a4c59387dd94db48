"""The mapping import job: CSV rows (the export's format) stored into the catalog mapping,
shop by shop, with progress; bad rows are reported on the job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import text
from shopify_sync.domain.catalog import parse_csv
from shopify_sync.lanes import Lanes
from shopify_sync.ports import CatalogState
from stocksync_common.events import new_id
from stocksync_common.stores import StoresConfig

INPUT_TTL_S = 7 * 24 * 3600
CHUNK = 1000
Report = Callable[[dict[str, Any]], Awaitable[None]]


def input_key(token: str) -> str:
    return f"sync:job-input:{{{token}}}"


@dataclass
class MappingImport:
    stores: StoresConfig
    catalog: CatalogState
    lanes: Lanes
    redis: Redis

    async def stash(self, csv_text: str) -> str:
        """Keep the uploaded CSV for the job (it outlives a restart); the key."""
        key = input_key(new_id())
        await self.redis.set(key, csv_text, ex=INPUT_TTL_S)
        return key

    async def run(
        self, params: dict[str, Any], progress: dict[str, Any], report: Report
    ) -> dict[str, Any]:
        raw = await self.redis.get(str(params["input"]))
        if raw is None:
            raise ValueError("the import's CSV expired")
        parsed = parse_csv(text(raw), self.stores.stores)
        progress.update(rejected=len(parsed.errors), errors=parsed.errors[:100])
        progress.setdefault("imported", 0)
        done_shops: list[str] = progress.setdefault("shops_done", [])
        for shop, entries in parsed.entries.items():
            if shop in done_shops:
                continue
            rows = list(entries.values())
            for start in range(0, len(rows), CHUNK):
                await self.catalog.put(shop, rows[start : start + CHUNK])
            self.lanes.wake(shop)
            progress["imported"] += len(rows)
            done_shops.append(shop)
            await report(progress)
        return progress
