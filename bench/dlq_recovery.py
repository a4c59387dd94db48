"""Recovery after a 30 s Shopify outage during load: how long until the backlog is applied.

    uv run python -m bench.dlq_recovery [--outage-s 30 --rate 20 --skus 2000]
        [--bootstrap ...] [--redis-url ...] [--port-offset 10000] [--smoke]

The system runs as processes. Orders (each on a SKU of its own) flow at ``--rate``/s
through the simulator's storefront; ``--before-s`` seconds in, every simulated store starts
answering 503 to every Admin API call (the simulator's fault switch) for ``--outage-s``
seconds while orders keep coming. At the heal the load stops, and the clock runs until every
store shows the right count for every SKU sold: the time from recovery to all backlog
applied (target < 10 s, automatic: nobody replays anything by hand). Also reported: what the
DLQ admin API of shopify-sync lists, if it has one. Exit status 1 only if a sale never
reached every store (lost) or a webhook failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench import load
from bench.live import (
    ADMIN,
    SYSTEM,
    Infra,
    Stack,
    add_infra_args,
    infra_of,
    running_stack,
    store_gids,
)
from bench.prepare import load_catalog
from bench.report import (
    finish,
    machine,
    machine_line,
    now_utc,
    table,
)

SCENARIO = "dlq_recovery"
TARGET_S = 10.0
GIVE_UP_S = 180.0


@dataclass(frozen=True)
class Options:
    outage_s: float = 30.0
    before_s: float = 5.0
    rate: float = 20.0
    skus: int = 2000
    # ample: above StockSync's default allocation threshold (4 units per store), so every
    # store shows the whole count and every sale reaches every store
    cold_stock: int = 50


SMOKE = Options(outage_s=3.0, before_s=1.0, rate=10.0, skus=100)


async def set_outage(http: httpx.AsyncClient, sim: str, shops: list[str], on: bool) -> None:
    for shop in shops:
        if on:
            r = await http.post(f"{sim}/_sim/faults", json={"shop": shop, "error_rate": 1.0})
        else:
            r = await http.delete(f"{sim}/_sim/faults", params={"shop": shop})
        r.raise_for_status()


def behind(inv: dict[str, dict[str, int]], sold: set[str], stock: int) -> int:
    """(store, SKU) pairs not yet showing the sale."""
    return sum(1 for levels in inv.values() for sku in sold if levels.get(sku) != stock - 1)


async def dlq_view(http: httpx.AsyncClient, url: str) -> Any:
    """shopify-sync's ``GET /admin/dlq`` if it serves one (the DLQ contract), else a note."""
    try:
        r = await http.get(f"{url}/admin/dlq", headers=ADMIN)
    except httpx.HTTPError as exc:
        return f"unreachable: {exc}"
    return r.json() if r.status_code == 200 else f"HTTP {r.status_code}"


async def run(opts: Options, infra: Infra) -> dict[str, Any]:
    with running_stack(infra, SCENARIO, redis_db=9, names=SYSTEM) as stack:
        return await measure(stack, opts)


async def measure(stack: Stack, opts: Options) -> dict[str, Any]:
    """The outage on a running system (any earlier runs used other SKUs)."""
    cat = load.catalog(f"DQ{uuid.uuid4().hex[:6]}", opts.skus, 0, 0, opts.cold_stock)
    gids = store_gids()
    shops = list(gids)
    total = int(opts.rate * (opts.before_s + opts.outage_s))
    sales = load.plan_sales(cat, shops, total, 0.0, seed=11)
    sim, sync = stack.url("shopify-sim"), stack.url("shopify-sync")
    async with httpx.AsyncClient(timeout=30) as http:
        await load_catalog(http, sim, stack.url("inventory-adjuster"), gids, cat)
        await load.clear(http, sim)
        split = int(opts.rate * opts.before_s)
        before = await load.drive(http, sim, sales[:split], opts.rate)
        await set_outage(http, sim, shops, on=True)
        # the DLQ view is taken while the outage lasts, without lengthening it
        viewing = asyncio.create_task(dlq_view(http, sync))
        during = await load.drive(http, sim, sales[split:], opts.rate)
        inv = await load.inventories(http, sim, gids)
        sold = {s["sku"] for s in sales}
        at_heal = behind(inv, sold, cat.cold_stock)
        dlq_during = await viewing
        await set_outage(http, sim, shops, on=False)
        healed = time.monotonic()
        lag = at_heal
        while lag and time.monotonic() - healed < GIVE_UP_S:
            await asyncio.sleep(0.2)
            lag = behind(await load.inventories(http, sim, gids), sold, cat.cold_stock)
        recovery_s = time.monotonic() - healed
        book = await load.sales_book(http, sim)
        stats = (await http.get(f"{sim}/_sim/stats")).json()
        dlq_after = await dlq_view(http, sync)
    failures = []
    if lag:
        failures.append(f"{lag} (store, SKU) levels never caught up after {GIVE_UP_S:.0f} s")
    webhooks = load.acks(book)
    if webhooks["failed"] or before.errors or during.errors:
        failures.append(f"webhooks failed {webhooks['failed']}")
    return {
        "options": asdict(opts),
        "sales": before.sold + during.sold,
        "behind_at_heal": at_heal,
        "recovery_s": round(recovery_s, 2),
        "errors_injected": {shop: v["injected_errors"] for shop, v in stats.items()},
        "webhooks": webhooks,
        "dlq_during": dlq_during,
        "dlq_after": dlq_after,
        "failures": failures,
    }


def dlq_text(view: Any) -> str:
    """``n topics, depth d, pending p`` from the DLQ admin API's answer, or what it said."""
    if not isinstance(view, dict) or "topics" not in view:
        return f"`{view}`"
    topics = view["topics"]
    depth = sum(int(t.get("depth", 0)) for t in topics)
    pending = sum(int(t.get("pending", 0)) for t in topics)
    return f"{len(topics)} DLQ topics, {depth} records, {pending} pending"


def render(data: dict[str, Any], results: str) -> str:
    o = data["options"]
    met = "met" if data["recovery_s"] < TARGET_S and not data["failures"] else "**not met**"
    rows = [[
        f"{o['outage_s']:g} s", f"{data['sales']:,}", f"{data['behind_at_heal']:,}",
        f"**{data['recovery_s']} s**", f"< {TARGET_S:g} s, automatic ({met})",
        f"{sum(data['errors_injected'].values()):,}",
    ]]  # fmt: skip
    return "\n".join([
        f"Orders at {o['rate']:g}/s through the simulator's storefront, each on a SKU of its own "
        f"({o['skus']:,} SKUs, three stores). {o['before_s']:g} s in, every store answers 503 "
        f"to every Admin API call for {o['outage_s']:g} s while orders keep coming; at the heal "
        "the load stops and the clock runs until every store shows every sale.",
        "",
        table(["outage", "orders", "store levels behind at heal", "recovery to all applied",
               "target", "503s served"], rows),  # fmt: skip
        "",
        "shopify-sync's DLQs (`GET /admin/dlq`) during the outage: "
        f"{dlq_text(data['dlq_during'])}; "
        f"after the recovery: {dlq_text(data['dlq_after'])}. Writes held back by the outage wait "
        "in shopify-sync's durable pending map while its circuit breakers are open (hence few "
        "503s served), and go out when a probe succeeds: nobody replays anything.",
        "",
        f"- Machine: {machine_line(data['machine'])}",
        f"- Date: {data['date'][:16].replace('T', ' ')} UTC",
        f"- Command: `{data['command']}`",
        f"- Raw results: `{results}`",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.dlq_recovery", description=__doc__.split("\n\n")[0])
    d = Options()
    for name in ("outage_s", "before_s", "rate"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    p.add_argument("--skus", type=int, default=d.skus)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-doc", action="store_true")
    add_infra_args(p)
    args = p.parse_args(argv)
    opts = SMOKE if args.smoke else Options(args.outage_s, args.before_s, args.rate, args.skus)
    at, box = now_utc(), machine()
    data = asyncio.run(run(opts, infra_of(args)))
    return finish(SCENARIO, "Recovery after a 30 s Shopify outage", data, at=at, box=box,
                  doc=not args.no_doc, smoke=args.smoke, render=render,
                  brief=lambda d: {"recovery_s": d["recovery_s"]})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
