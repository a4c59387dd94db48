"""CPU, wall time and Redis round trips per push round (``Writer.push_pending``) against a
real Redis, the Admin API answered in process.

    uv run --frozen python services/shopify-sync/scripts/round_cpu.py \
        [--redis redis://127.0.0.1:16379/0] [--rounds 2000] [--per-round 1] [--stores 1] \
        [--no-settler] [--no-round-reads]

Flash-sale shaped: each round finds ``--per-round`` changes pending on SKUs it has not
written before (cold sales: their catalog entries and last levels are in Redis, not yet in
memory), each lowering a level of 50 by one, and writes them in one
``inventorySetQuantities``. The writer is built as the service builds it (Redis sync state,
catalog, cached exposures, intents, the settler on one Redis and the round's first reads in
one call; ``--no-settler``: as on a Redis Cluster; ``--no-round-reads``: the pending changes
read first, then their levels and catalog entries, as before). The HTTP client is httpx with
a transport that answers every call at once with an applied mutation and a full bucket, so
what is measured is the round's own work: its Redis commands, its bookkeeping and building
the request. Recording the pending changes is not counted. Reports CPU and wall time per
round (this process; Redis's own CPU is not counted) and the round trips to Redis per round
(socket sends: a pipeline or a script call is one). Its keys live under fresh shops and are
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from shopify_sync.adapters.exposures import CachedExposures, RedisExposures
from shopify_sync.adapters.intents import RedisIntents
from shopify_sync.adapters.redis_catalog import RedisCatalog
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.adapters.round_reads import RedisRoundReads
from shopify_sync.adapters.settle import RedisSettler
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.quantities import ItemKey, Pending
from shopify_sync.mapping import CatalogMapping
from shopify_sync.writer import Writer
from stocksync_common.stores import Store
from stocksync_common.tracing import setup_tracing

LOCATION = "wh-1"
COST = {
    "cost": {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {
            "maximumAvailable": 20000.0,
            "currentlyAvailable": 20000.0,
            "restoreRate": 1000.0,
        },
    }
}


class NoDeadLetters:
    async def reject(
        self, shop: str, rejected: Mapping[ItemKey, tuple[Pending, str]], reason: str
    ) -> None:
        raise RuntimeError(f"{shop}: {len(rejected)} rejected ({reason}), none should be")


def answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    if body.get("operationName") == "SetInventoryQuantities":
        data: dict[str, Any] = {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1"},
                "userErrors": [],
            }
        }
    else:
        data = {"shop": {"name": "probe"}}
    return httpx.Response(200, json={"data": data, "extensions": COST})


class Sends:
    """Counts what the Redis client sends (one socket write per command, pipeline or script)."""

    def __init__(self) -> None:
        self.count = 0
        original = AbstractConnection.send_packed_command

        async def counted(
            conn: AbstractConnection, command: Any, check_health: bool = True
        ) -> None:
            self.count += 1
            await original(conn, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign,assignment]


def store(shop: str) -> Store:
    return Store.model_validate(
        {
            "shop": shop,
            "access_token": "t",
            "webhook_secret": "s",
            "locations": {LOCATION: "gid://shopify/Location/1"},
        }
    )


async def main(
    url: str, rounds: int, per_round: int, stores: int, settler: bool, reads: bool
) -> None:
    setup_tracing("shopify-sync", "none")
    run = uuid.uuid4().hex[:8]
    shops = [store(f"round-{run}-{i}.myshopify.com") for i in range(stores)]
    redis = Redis.from_url(url)
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://sim")
    client = ShopifyClient(http)
    state, catalog = RedisSyncState(redis), RedisCatalog(redis)
    mapping = CatalogMapping(client, catalog, state, None)  # type: ignore[arg-type]
    cached = CachedExposures(RedisExposures(redis))
    writer = Writer(
        client, mapping, state, NoDeadLetters(), asyncio.sleep, 3, cached, RedisIntents(redis),
        settler=RedisSettler(redis, cached) if settler else None,
        reads=RedisRoundReads(redis) if reads else None,
    )  # fmt: skip
    total = (rounds + 1) * per_round
    skus = [f"RC-{run}-{i}" for i in range(total)]
    for s in shops:
        entries = [
            CatalogEntry(sku, f"gid://shopify/Product/{i}", f"gid://shopify/ProductVariant/{i}",
                         f"gid://shopify/InventoryItem/{i}", ("gid://shopify/Location/1",))
            for i, sku in enumerate(skus)
        ]  # fmt: skip
        await catalog.put(s.shop, entries)
        await state.observed(s.shop, {(sku, LOCATION): 50 for sku in skus})
    sends = Sends()
    cpu = wall = 0.0
    trips = 0
    for r in range(rounds + 1):
        part = skus[r * per_round : (r + 1) * per_round]
        for s in shops:
            seen = tuple((x.shop, 1 if x is shops[0] else 0) for x in shops)
            await state.record(
                s.shop, {(sku, LOCATION): Pending(2, 49, 49, False, seen) for sku in part}
            )
        c0, w0, n0 = time.process_time(), time.perf_counter(), sends.count
        for s in shops:
            out = await writer.push_pending(s)
            if out.applied != per_round:
                raise RuntimeError(f"a round applied {out.applied} of {per_round}: {out}")
        if r:  # the first round is the warm-up (scripts loaded, probe sent)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            trips += sends.count - n0
    n = rounds * stores
    print(  # noqa: T201
        f"{n} rounds of {per_round} change(s), {stores} store(s): "
        f"CPU {cpu * 1e6 / n:.0f} us/round, wall {wall * 1e6 / n:.0f} us/round, "
        f"{trips / n:.2f} Redis round trips/round"
    )
    keys = [k for s in shops async for k in redis.scan_iter(f"sync:*{{{s.shop}}}", count=1000)]
    keys += [k async for k in redis.scan_iter(f"sync:exposure:{{RC-{run}-*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])
    await redis.aclose()
    await http.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--redis", default="redis://127.0.0.1:16379/0")
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--per-round", type=int, default=1)
    p.add_argument("--stores", type=int, default=1)
    p.add_argument(
        "--no-settler", action="store_true", help="settle in two waits, as on a Redis Cluster"
    )
    p.add_argument(
        "--no-round-reads", action="store_true", help="read pending, then levels and catalog"
    )
    a = p.parse_args()
    asyncio.run(
        main(a.redis, a.rounds, a.per_round, a.stores, not a.no_settler, not a.no_round_reads)
    )
