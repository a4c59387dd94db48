"""``GET /inventory/{sku}/ledger`` on a real Redis (#22): behind the admin token, and paged
(a page of at most ``limit``, ``next`` to walk back to the oldest entry)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.entrypoints.read_api import router
from stocksync_common.events import InventoryCommand

pytestmark = pytest.mark.integration
TOKEN = "a-token-long-enough-for-the-test"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    store = RedisInventory(redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=100)
    sku = f"IT-{uuid.uuid4().hex[:10]}"
    commands = [
        InventoryCommand(
            command="adjust", idempotency_key=f"k{n}", sku=sku, location="wh-1", quantity=n
        )
        for n in range(1, 8)
    ]
    await store.apply_many([(c, None) for c in commands])
    app = FastAPI()
    app.include_router(router)
    app.state.container = SimpleNamespace(
        store=store, settings=SimpleNamespace(admin_token=SecretStr(TOKEN))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://adjuster") as http:
        yield http, sku


async def test_the_ledger_needs_the_token(api: tuple[httpx.AsyncClient, str]) -> None:
    http, sku = api
    assert (await http.get(f"/inventory/{sku}/ledger")).status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert (await http.get(f"/inventory/{sku}/ledger", headers=bad)).status_code == 401


async def test_pages_walk_from_the_newest_back_to_the_oldest(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, sku = api
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if before:
            params["before"] = before
        doc = (await http.get(f"/inventory/{sku}/ledger", headers=ADMIN, params=params)).json()
        quantities = [int(e["quantity"]) for e in doc["entries"]]
        assert quantities == sorted(quantities)  # each page oldest first
        seen = quantities + seen
        pages += 1
        before = doc["next"]
        if before is None:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7] and pages == 3
    whole = await http.get(f"/inventory/{sku}/ledger", headers=ADMIN)
    assert [int(e["quantity"]) for e in whole.json()["entries"]] == seen
    assert whole.json()["next"] is None


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"before": "x; DROP"}])
async def test_bad_paging_is_refused(
    api: tuple[httpx.AsyncClient, str], params: dict[str, str | int]
) -> None:
    http, sku = api
    r = await http.get(f"/inventory/{sku}/ledger", headers=ADMIN, params=params)
    assert r.status_code == 422
