"""A catalog loaded into the running StockSync: products in every simulated store, stock
imported through inventory-adjuster, and every store synced before a measurement starts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from aiokafka import AIOKafkaProducer

from bench import load
from bench.live import ADMIN, LOCATION
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, SkuConfig
from stocksync_common.kafka import send_event
from stocksync_common.topics import INVENTORY_COMMANDS


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], timeout_s: float, every_s: float = 0.25
) -> float:
    """Poll ``check()`` until true; returns the seconds it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what}: not after {timeout_s:.0f} s")
        await asyncio.sleep(every_s)
    return time.monotonic() - start


async def configure_hot(bootstrap: str, skus: list[str], stock: int) -> None:
    """Reject policy, and channel shares whenever available is below 10x the stock."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        config = SkuConfig(policy="reject", allocation_threshold=stock * 10)
        futures = []
        for sku in skus:
            cmd = InventoryCommand(
                command="configure", idempotency_key=f"bench:{sku}:configure", sku=sku,
                location=LOCATION, quantity=0, config=config,
            )  # fmt: skip
            event = InventoryCommandRequested(payload=cmd, source="bench")
            futures.append(await send_event(producer, INVENTORY_COMMANDS, sku, event))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def load_catalog(
    http: httpx.AsyncClient,
    sim: str,
    adjuster: str,
    gids: dict[str, str],
    cat: load.Catalog,
    *,
    bootstrap: str,
    timeout_s: float = 300.0,
) -> float:
    """Seed, configure hot SKUs, import stock, wait for every store; returns the sync time."""
    await load.seed_products(http, sim, gids, lambda _shop, _sku: 0, cat.hot + cat.cold)
    if cat.hot:
        await configure_hot(bootstrap, cat.hot, cat.hot_stock)
    csv = "sku,location,on_hand\n" + "".join(
        f"{s},{LOCATION},{n}\n" for s, n in cat.stock().items()
    )
    r = await http.post(
        f"{adjuster}/inventory/import", content=csv, headers={**ADMIN, "Content-Type": "text/csv"}
    )
    r.raise_for_status()

    async def synced() -> bool:
        inv = await load.inventories(http, sim, gids)
        cold = all(inv[s].get(k) == cat.cold_stock for s in gids for k in cat.cold)
        hot = all(sum(inv[s].get(k, 0) for s in gids) == cat.hot_stock for k in cat.hot)
        return cold and hot

    # each look lists every store's inventory: often for a small catalog, less for a big one
    every_s = 1.0 if len(cat.hot) + len(cat.cold) > 2000 else 0.2
    return await wait_until("initial sync of the catalog", synced, timeout_s, every_s=every_s)
