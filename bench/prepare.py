"""A catalog loaded into the running StockSync: products in every simulated store, stock
imported through inventory-adjuster, and every store synced before a measurement starts.

Nothing is configured per SKU: the benches measure StockSync with its default settings
(its default channel allocation decides what each store shows of a low SKU)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from bench import load
from bench.live import ADMIN, LOCATION


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


async def nothing_pending(http: httpx.AsyncClient, sync: str) -> bool:
    """shopify-sync has no change waiting for any store."""
    r = await http.get(f"{sync}/status/stores", headers=ADMIN)
    return r.status_code == 200 and all(s["pending"] == 0 for s in r.json()["stores"])


async def load_catalog(
    http: httpx.AsyncClient,
    sim: str,
    adjuster: str,
    gids: dict[str, str],
    cat: load.Catalog,
    *,
    sync: str | None = None,
    timeout_s: float = 300.0,
) -> float:
    """Seed, import stock, wait for every store; returns the sync time.

    A cold SKU is synced when every store shows its stock. A hot SKU (little stock) may be
    shown whole or as disjoint shares, as StockSync's allocation decides: it is synced when
    some store shows it, none shows more than its stock, and shopify-sync (``sync``) has
    nothing pending for any store."""
    await load.seed_products(http, sim, gids, lambda _shop, _sku: 0, cat.hot + cat.cold)
    csv = "sku,location,on_hand\n" + "".join(
        f"{s},{LOCATION},{n}\n" for s, n in cat.stock().items()
    )
    r = await http.post(
        f"{adjuster}/inventory/import", content=csv, headers={**ADMIN, "Content-Type": "text/csv"}
    )
    r.raise_for_status()

    behind: dict[str, int] = {}

    async def synced() -> bool:
        inv = await load.inventories(http, sim, gids)
        cold = sum(1 for k in cat.cold if any(inv[s].get(k) != cat.cold_stock for s in gids))
        shown = [[inv[s].get(k, 0) for s in gids] for k in cat.hot]
        hot = sum(1 for n in shown if not 0 < max(n) <= cat.hot_stock)
        behind.update(cold=cold, hot=hot)
        if cold or hot:
            return False
        return sync is None or not cat.hot or await nothing_pending(http, sync)

    # each look lists every store's inventory: often for a small catalog, less for a big one
    every_s = 1.0 if len(cat.hot) + len(cat.cold) > 2000 else 0.2
    try:
        return await wait_until("initial sync of the catalog", synced, timeout_s, every_s=every_s)
    except TimeoutError as exc:
        raise TimeoutError(
            f"{exc}: {behind.get('cold')} cold SKUs not shown whole in every store, "
            f"{behind.get('hot')} hot SKUs not shown or above their stock"
        ) from None
