"""shopify-sync running in process on the real Kafka and Redis, pushing to the Shopify
simulator (in process too, over ASGI, on the real clock). Topics, consumer groups and shop
names are fresh per test, so tests never see each other's data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI
from redis.asyncio.connection import AbstractConnection

from shopify_sync.bootstrap import Container
from shopify_sync.entrypoints.app import create_app
from shopify_sync.settings import Settings
from stocksync_common.events import (
    InventoryChanged,
    InventoryLevelsUpdated,
    Levels,
    SkuLevels,
    StockChange,
    encode,
)
from stocksync_sim.shopify.app import create_app as create_sim
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.runtime import SimSettings
from support.poll import await_for
from support.sim_writes import compare_and_set_violations, quantities

SIM = "http://shopify.test"
SIM_ONLY = frozenset({"token_ttl_s"})  # stores-file keys only the simulator reads
LOC = "gid://shopify/Location/1"
ADMIN = {"Authorization": "Bearer it-admin-token"}


def change(
    sku: str,
    version: int,
    available: int,
    shares: dict[str, int] | None = None,
    seen: dict[str, int] | None = None,
) -> InventoryChanged:
    """``seen``: each shop's applied-order counter (StockChange.seen) as of this change."""
    lv = Levels(on_hand=available, available=available)
    return InventoryChanged(
        source="test",
        payload=StockChange(
            sku=sku, location="wh-1", command="set_on_hand", idempotency_key=f"{sku}:{version}",
            version=version, before=lv, after=lv, sku_available_before=available,
            sku_available_after=available, shares=shares, seen=seen,
        ),
    )  # fmt: skip


def levels(sku: str, version: int, available: int) -> InventoryLevelsUpdated:
    return InventoryLevelsUpdated(
        source="test",
        payload=SkuLevels(
            sku=sku, version=version, available=available,
            locations={"wh-1": Levels(on_hand=available, available=available)},
        ),
    )  # fmt: skip


@dataclass
class Sync:
    app: FastAPI
    sim: httpx.AsyncClient
    admin: httpx.AsyncClient
    producer: AIOKafkaProducer
    settings: Settings
    shops: list[str]

    @property
    def container(self) -> Container:
        c: Container = self.app.state.container
        return c

    async def seed(self, shop: str, stock: dict[str, int]) -> None:
        body = [{"sku": s, "quantities": {LOC: n}} for s, n in stock.items()]
        for start in range(0, len(body), 2500):
            r = await self.sim.post(
                f"/_sim/stores/{shop}/products", json=body[start : start + 2500]
            )
            assert r.status_code == 201, r.text

    async def inventory(self, shop: str) -> dict[str, int]:
        inv = (await self.sim.get(f"/_sim/stores/{shop}/inventory")).json()
        return {sku: lv.get(LOC) for sku, lv in inv.items()}

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.sim.get("/_sim/stats")).json()
        return stats

    async def assert_compare_and_set(self) -> None:
        """Every quantity the simulator applied was a compare-and-set against the store's
        count at that moment (``changeFromQuantity`` never null, never another count)."""
        r = await self.sim.get("/_sim/storefront/writes")
        assert r.status_code == 200, r.text
        writes: list[dict[str, Any]] = r.json()
        assert any(q["outcome"] == "applied" for q in quantities(writes)), "nothing applied"
        assert compare_and_set_violations(writes) == []

    async def publish_changes(self, events: list[InventoryChanged]) -> None:
        futures = [
            await self.producer.send(
                self.settings.changes_topic, encode(e), key=e.payload.sku.encode()
            )
            for e in events
        ]
        for f in futures:
            await f

    async def publish_levels(self, events: list[InventoryLevelsUpdated]) -> None:
        for e in events:
            await self.producer.send(
                self.settings.levels_topic, encode(e), key=e.payload.sku.encode()
            )
        await self.producer.flush()

    async def converged(self, shop: str, truth: dict[str, int], timeout_s: float = 60) -> None:
        async def equal() -> bool:
            inv = await self.inventory(shop)
            return all(inv.get(s) == n for s, n in truth.items())

        await await_for(f"{shop} equal to truth", equal, timeout_s)


async def _topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 3, 1) for n in names])
    finally:
        await admin.close()


SyncFactory = Callable[..., Any]


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts what any Redis client sends (one socket write per command, pipeline or script)."""
    count = [0]
    original = AbstractConnection.send_packed_command

    async def counted(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
        count[0] += 1
        await original(conn, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    yield count


@pytest.fixture
def sync_stack(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> SyncFactory:
    @asynccontextmanager
    async def start(
        plans: list[str], store_extra: list[dict[str, Any]] | None = None, **overrides: Any
    ) -> AsyncIterator[Sync]:
        """``store_extra``: more stores-file keys per store (role, child_owned_fields); a key
        set to None is left out (``access_token: None`` with client credentials)."""
        run = uuid.uuid4().hex[:8]
        shops = [f"it-{run}-{i}-{plan}.myshopify.com" for i, plan in enumerate(plans)]
        extra = store_extra or [{} for _ in plans]
        stores = [
            {k: v for k, v in {
                "shop": shop, "admin_base_url": SIM, "access_token": f"tok-{shop}",
                "webhook_secret": f"sec-{shop}", "plan": plan, "locations": {"wh-1": LOC}, **more,
            }.items() if v is not None}
            for shop, plan, more in zip(shops, plans, extra, strict=True)
        ]  # fmt: skip
        path = tmp_path / f"stores-{run}.yaml"
        ours = [{k: v for k, v in store.items() if k not in SIM_ONLY} for store in stores]
        path.write_text(yaml.safe_dump({"stores": ours}))
        topics = {k: f"it.{run}.{k}" for k in ("changes", "webhooks", "levels", "catalog")}
        await _topics(kafka_bootstrap, list(topics.values()))
        settings = Settings(
            kafka_bootstrap_servers=kafka_bootstrap,
            redis_url=redis_url,
            stores_file=str(path),
            admin_token="it-admin-token",
            consumer_group=f"it-sync-{run}",
            catalog_consumer_group=f"it-sync-catalog-{run}",
            propagation_consumer_group=f"it-sync-propagation-{run}",
            catalog_topic=topics["catalog"],
            changes_topic=topics["changes"],
            webhooks_topic=topics["webhooks"],
            levels_topic=topics["levels"],
            topic_partitions=3,
            reconcile_interval_s=0,
            bulk_poll_s=0.05,
            **overrides,
        )
        sim_app = create_sim(
            SimSettings(stores=parse_stores({"stores": stores}, environ={}), validation="on")
        )
        async with sim_app.router.lifespan_context(sim_app):
            sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url=SIM)
            app = create_app(settings, http=sim)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
            await producer.start()
            try:
                async with app.router.lifespan_context(app):
                    await startup_recovery_done()
                    admin = httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://sync.test"
                    )
                    yield Sync(app, sim, admin, producer, settings, shops)
            finally:
                await producer.stop()

    return start


async def startup_recovery_done(timeout_s: float = 30.0) -> None:
    """Wait for the start's catalog-journal recovery (a background task): a test that writes
    journal entries and recovers them itself must not race it (the simulator answering
    without a thread hop made that race show: both rolled back the same collection)."""
    found = [t for t in asyncio.all_tasks() if t.get_name() == "catalog-recover"]
    if found:
        await asyncio.wait(found, timeout=timeout_s)
