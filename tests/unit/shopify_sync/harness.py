"""shopify-sync's parts wired to the Shopify simulator in process (ASGI, no network), with
in-memory state and one fake clock shared by the simulator's buckets and the pacer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from unit.shopify_sync.fakes import FakeClock, FakeDeadLetters, MemoryCatalog, MemorySyncState

from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.domain.pacing import Clock
from shopify_sync.mapping import CatalogMapping
from shopify_sync.writer import Writer
from stocksync_common.breaker import CircuitBreaker
from stocksync_common.stores import Store
from stocksync_sim.shopify.app import create_app
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.runtime import SimSettings

BASE = "http://shopify.test"
LOC_GID = "gid://shopify/Location/1"


def store(shop: str, plan: str, **extra: Any) -> dict[str, Any]:
    return {
        "shop": shop,
        "admin_base_url": BASE,
        "access_token": f"tok-{shop}",
        "webhook_secret": f"sec-{shop}",
        "plan": plan,
        "locations": {"wh-1": LOC_GID},
        **extra,
    }


@dataclass
class Rig:
    http: httpx.AsyncClient
    clock: FakeClock
    client: ShopifyClient
    state: MemorySyncState
    catalog: MemoryCatalog
    dead: FakeDeadLetters
    mapping: CatalogMapping
    writer: Writer
    stores: dict[str, Store]

    async def seed(self, shop: str, levels: dict[str, int]) -> None:
        body = [{"sku": sku, "quantities": {LOC_GID: n}} for sku, n in levels.items()]
        for start in range(0, len(body), 2000):
            r = await self.http.post(
                f"/_sim/stores/{shop}/products", json=body[start : start + 2000]
            )
            assert r.status_code == 201, r.text

    async def inventory(self, shop: str) -> dict[str, int]:
        inv = (await self.http.get(f"/_sim/stores/{shop}/inventory")).json()
        return {sku: levels.get(LOC_GID) for sku, levels in inv.items()}

    async def stats(self, shop: str) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.http.get("/_sim/stats")).json()[shop]
        return stats

    async def faults(self, shop: str, **spec: Any) -> None:
        r = await self.http.post("/_sim/faults", json={"shop": shop, **spec})
        assert r.status_code == 200, r.text


@asynccontextmanager
async def rig(
    stores: list[dict[str, Any]], *, failure_threshold: int = 3, bulk_threshold: int = 500
) -> AsyncIterator[Rig]:
    clock = FakeClock()
    sim_stores = parse_stores({"stores": stores}, environ={})
    app = create_app(
        SimSettings(stores=sim_stores, validation="on"), clock=clock, sleep=clock.sleep
    )

    def breaker(_shop: str, c: Clock) -> CircuitBreaker:
        return CircuitBreaker(
            clock=c, failure_threshold=failure_threshold, open_s=5.0, max_open_s=60.0
        )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            client = ShopifyClient(http, clock=clock, sleep=clock.sleep, breaker_factory=breaker)
            state, catalog, dead = MemorySyncState(), MemoryCatalog(), FakeDeadLetters()
            bulk = BulkRunner(client, http, clock.sleep, poll_s=0.1)
            mapping = CatalogMapping(client, catalog, state, bulk, bulk_threshold=bulk_threshold)
            writer = Writer(client, mapping, state, dead, clock.sleep)
            by_shop = {s["shop"]: Store.model_validate(s) for s in stores}
            yield Rig(http, clock, client, state, catalog, dead, mapping, writer, by_shop)
