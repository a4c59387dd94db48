"""What a simulator process does that a test's process must not, each checked in an
interpreter of its own (this one has had both done by earlier tests): the delivery
transport loaded at start, a seeded catalog kept out of later garbage collections."""

from __future__ import annotations

import subprocess
import sys

import pytest

WARM_PROBE = """
import asyncio, sys
from stocksync_sim.shopify.app import create_app as shopify
from stocksync_sim.shopify.runtime import SimSettings
from stocksync_sim.wms.app import create_app as wms, WmsSettings

async def main() -> None:
    if sys.argv[1] == "shopify":
        app = shopify(SimSettings(stores=[], validation="off"))
    else:
        app = wms(WmsSettings("http://r.test/", "s"))
    async with app.router.lifespan_context(app):
        print("anyio._backends._asyncio" in sys.modules)

asyncio.run(main())
"""


@pytest.mark.parametrize("sim", ["shopify", "wms"])
def test_a_simulator_loads_its_delivery_transport_at_start(sim: str) -> None:
    """httpx's default transport loads anyio's asyncio backend on its first request, 100-150
    ms of imports here: the first webhook of every idle series was the slowest sale, for
    StockSync and the naive monolith alike. The simulators load it at start (``warm``). Its
    own interpreter: this one has the backend loaded by earlier tests."""
    out = subprocess.run(
        [sys.executable, "-c", WARM_PROBE, sim],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    assert out == ["True"]


SEED_PROBE = """
import asyncio, gc, sys
import httpx
from stocksync_sim.process import quiet_collector
from stocksync_sim.shopify.app import create_app
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.runtime import SimSettings

async def main() -> None:
    if sys.argv[1] == "process":
        quiet_collector()  # what a simulator's __main__ does before it serves
    store = {"shop": "s.myshopify.com", "role": "parent", "access_token": "t",
             "webhook_secret": "w", "locations": {"wh-1": "gid://shopify/Location/1"}}
    app = create_app(SimSettings(stores=parse_stores({"stores": [store]}), validation="off"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://sim.test") as http:
            seeds = [{"sku": f"S{i}", "quantities": {"wh-1": 5}} for i in range(50)]
            r = await http.post("/_sim/stores/s.myshopify.com/products", json=seeds)
            r.raise_for_status()
    print(gc.get_freeze_count() > 0)

asyncio.run(main())
"""


@pytest.mark.parametrize(("where", "frozen"), [("process", "True"), ("test", "False")])
def test_a_simulator_process_keeps_a_seeded_catalog_out_of_later_collections(
    where: str, frozen: str
) -> None:
    """A full collection in a simulator scanned the whole flash-sale catalog (117-182 ms
    here) and stopped the sales in flight, for StockSync and the naive monolith alike: a
    simulator process freezes the heap after a seed (``settle_seeded``). A test's process
    never does: everything it holds would be frozen with it."""
    out = subprocess.run(
        [sys.executable, "-c", SEED_PROBE, where],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    assert out == [frozen]
