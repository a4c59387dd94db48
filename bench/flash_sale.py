"""Flash sale across three stores sharing stock: StockSync against the naive baseline.

    uv run python -m bench.flash_sale [--skus 10000 --hot 200 --hot-stock 6 --rate 200
        --duration 20 --demand 70,28,2] [--bootstrap 127.0.0.1:9092
        --redis-url redis://127.0.0.1:6379] [--port-offset 10000] [--sims 3] [--smoke]
        [--no-doc]

The Shopify simulator plays three storefronts (parent, child-eu, child-us) selling the same
SKUs: a few hot ones with little stock among many. One seeded list of one-unit sales is sent
at ``--rate`` orders/s through the simulator's storefront, which refuses a sale when that
store's own count is zero and otherwise sends a signed ``orders/create``. Demand is uneven
across the stores (``--demand``: 70% / 28% / 2% of the orders by default) and asks every hot
SKU for more units than it has (the ratio is in the report). The simulator runs as one
process per store (``--sims 3``, the default: each serves its store's sales, webhooks and
Admin API, and the services' stores file points each store at its process) or as one
process for the three stores (``--sims 1``), the same for both runs. It runs twice, with
fresh simulator state each time:

1. **StockSync**: the six services as processes with their default settings: nothing is
   configured per SKU (no channel allocation, no policy); what each store shows of a low
   SKU is StockSync's default allocation, and its share moves.
2. **naive**: ``bench.naive_monolith`` receives the same webhooks and does the whole sync
   in the request; every store shows the whole shared count, as such a sync does.

Measured: webhooks accepted/s, inventory commands applied/s (adjuster metrics), webhook ack
latency, sync latency (sale of a cold SKU at one store -> accepted write at each other
store), units sold beyond stock, sell-through over the hot SKUs (units sold within stock /
hot stock; target >= 95%), sales refused while stock existed elsewhere, share moves
(shopify-sync's ``stocksync_share_moves_total``), errors. Exit status 1 only for a
correctness failure of StockSync (oversell, a lost webhook or write, a failed delivery);
speed and sell-through are reported, never failed on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from aiokafka.errors import KafkaError
from redis.asyncio import Redis

from bench import hops, load
from bench.flash_doc import render
from bench.live import (
    SYSTEM,
    Infra,
    Stack,
    add_infra_args,
    add_service_env_arg,
    infra_of,
    rates,
    running_stack,
    sample_metric,
    sim_procs,
    sims_of,
    store_gids,
)
from bench.prepare import load_catalog, wait_until
from bench.profile import hotspots, spy
from bench.report import ROOT, cpu_use, finish, infra_pgids, machine, now_utc, with_db
from bench.sim_fleet import SimFleet, Sims
from stocksync_sim.shopify.config import PLAN_RESTORE_RATES

SCENARIO = "flash_sale"
SETTLE_S = 90.0
NAIVE_SETTLE_S = 15.0
NAIVE_PORTS = 50  # added to the port offset of the naive run


@dataclass(frozen=True)
class Options:
    skus: int = 10_000
    hot: int = 200
    hot_stock: int = 6
    # ample: above StockSync's default allocation threshold (4 units per store), so every
    # store shows a cold SKU whole and a cold sale's sync reaches every other store
    cold_stock: int = 50
    rate: float = 200.0
    duration: float = 20.0
    hot_share: float = 0.5
    seed: int = 7
    demand: tuple[float, ...] = load.DEMAND  # per store, in the stores file's order
    poll_s: float = 1.0  # how often to look for delivered webhooks and synced stores
    land_s: float = 2.0  # after the cold sales synced, for hot-SKU writes to land
    rates: tuple[float, ...] = ()  # loaded runs, lowest first; empty: ``rate`` alone
    idle: int = 30  # single cold-SKU sales on an idle system before the loaded runs
    idle_every_s: float = 0.3
    profile: bool = False  # py-spy on the simulator and the services during the top rate
    sims: int = 3  # Shopify simulator processes, both sides: 3 is one per store, 1 serves all
    plans: tuple[str, ...] = ()  # each store's Shopify plan (API rate limit); (): the file's
    service_env: tuple[tuple[str, str], ...] = ()  # STOCKSYNC_* settings for StockSync's side

    @property
    def orders(self) -> int:
        return int(self.rate * self.duration)

    def series(self) -> list[tuple[str, Options]]:
        """(label, options) of each measured series: the idle single sales first (cold
        SKUs only, one every ``idle_every_s``), then each loaded rate."""
        out: list[tuple[str, Options]] = []
        if self.idle:
            every = self.idle_every_s
            idle = replace(self, rate=1 / every, duration=self.idle * every, hot_share=0.0,
                           skus=self.idle, hot=0)  # fmt: skip
            out.append(("idle", idle))
        out.extend((f"{r:g}/s", replace(self, rate=r)) for r in self.rates or (self.rate,))
        return out


# 40 orders, about 20 of them on 4 hot SKUs of 3 units: demand above stock here too
SMOKE = Options(skus=200, hot=4, hot_stock=3, rate=20, duration=2, poll_s=0.2, land_s=0.5,
                idle=3)  # fmt: skip
SHARE_MOVES = "stocksync_share_moves_total"
STRANDED_ROWS = 12  # the first hot SKUs left unsold, listed with their shares
TIMELINES = 4  # of which the sales and writes are listed in order
PROFILED = ("webhook-receiver", "order-consumer", "inventory-adjuster", "shopify-sync",
            "notifier", "wms-connector")  # fmt: skip
PROFILE_HZ = 20  # samples/s per process: nine processes share two cores with what they measure
SIMS = (1, 3)


async def poll_metric(
    http: httpx.AsyncClient,
    url: str,
    name: str,
    labels: dict[str, str],
    out: list[tuple[float, float]],
) -> None:
    """Sample a counter every 0.25 s until cancelled."""
    while True:
        try:
            text = (await http.get(url)).text
            out.append((time.monotonic(), sample_metric(text, name, labels)))
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.25)


async def stocksync_run(
    series: list[tuple[str, Options, load.Catalog]], infra: Infra
) -> dict[str, dict[str, Any]]:
    """Every series on one running system, in order (each on SKUs of its own)."""
    out: dict[str, dict[str, Any]] = {}
    sims = series[-1][1].sims
    plans = series[-1][1].plans
    env = dict(series[-1][1].service_env)
    with running_stack(
        infra, SCENARIO, redis_db=6, names=SYSTEM, sims=sims, plans=plans, extra_env=env
    ) as stack:
        for i, (label, opts, cat) in enumerate(series):
            top = i == len(series) - 1
            profiled = [*sim_procs(stack), *PROFILED]
            pids = {n: stack.procs[n].pid for n in profiled if n in stack.procs}
            profiling: AbstractContextManager[dict[str, Path]] = (
                spy(pids, ROOT / ".work" / "bench" / "profiles" / SCENARIO, PROFILE_HZ)
                if opts.profile and top
                else nullcontext({})
            )
            with profiling as files:
                out[label] = await stocksync_measure(stack, opts, cat)
            if files:
                out[label]["profiles"] = {n: hotspots(path) for n, path in files.items()}
            print(f"StockSync {label}: sync {out[label]['sync_latency_ms']['all']}")  # noqa: T201
            print(f"StockSync {label}: slowest {out[label]['sync_latency_ms']['slowest']}")  # noqa: T201
            print("\n".join(hops.lines(out[label]["hops"])), flush=True)  # noqa: T201
            print(f"StockSync {label}: cpu {out[label]['cpu']}", flush=True)  # noqa: T201
    return out


def cpu_groups(stack: Stack) -> dict[str, int]:
    """The process groups whose CPU a series reports: the stack's processes (each its own
    session), this bench (the load generator) and the broker and Redis."""
    groups = {name: proc.pid for name, proc in stack.procs.items()}
    return groups | {"bench (load generator)": os.getpgid(0)} | infra_pgids()


async def share_moves(http: httpx.AsyncClient, sync: str) -> float:
    """shopify-sync's share moves so far, summed over stores (0 when it has none)."""
    return sample_metric((await http.get(f"{sync}/metrics")).text, SHARE_MOVES)


async def stocksync_measure(stack: Stack, opts: Options, cat: load.Catalog) -> dict[str, Any]:
    """The flash sale on a running system (any earlier runs used other SKUs), default
    settings: nothing configured per SKU. The simulator is the stack's (``sims_of``)."""
    sim, adjuster = sims_of(stack), stack.url("inventory-adjuster")
    sync = stack.url("shopify-sync")
    rejections = "stocksync_oversell_rejections_total"
    async with httpx.AsyncClient(timeout=30) as http:
        initial_s = await load_catalog(http, sim, adjuster, store_gids(), cat, sync=sync)
        await load.clear(http, sim)
        refused_before = sample_metric((await http.get(f"{adjuster}/metrics")).text, rejections)
        moves_before = await share_moves(http, sync)
        since = time.time()
        counting = cpu_use(cpu_groups(stack))  # the sale and its settling, not the import
        result = await measure(http, sim, f"{adjuster}/metrics", opts, cat)
        result["cpu"] = counting()
        book, writes_seen = result.pop("_book"), result.pop("_writes")
        result["hops"] = await hop_breakdown(stack, since, book, writes_seen, cat)
        result["share_moves"] = await share_moves(http, sync) - moves_before
        result["initial_sync_s"] = round(initial_s, 2)
        metrics = (await http.get(f"{adjuster}/metrics")).text
        result["truth_rejections"] = sample_metric(metrics, rejections) - refused_before
        result["truth"] = await hot_truth(http, adjuster, cat)
        result["stranded"] = await stranded(http, sim, adjuster, cat)
        if result["stranded"]["rows"]:
            skus = [r["sku"] for r in result["stranded"]["rows"]]
            result["stranded"]["sync_state"] = await sync_state_of(stack, skus)
            result["stranded"]["timeline"] = timeline(book, writes_seen, skus[:TIMELINES])
    return result


async def hop_breakdown(
    stack: Stack, since: float, book: dict[str, Any], writes_seen: list[dict[str, Any]],
    cat: load.Catalog,
) -> dict[str, Any]:  # fmt: skip
    """The per-hop split of the cold sales (``bench.hops``); a broker that cannot be read
    is reported, never a failure of the run."""
    try:
        stamps = await hops.read_stamps(f"127.0.0.1:{stack.ports.kafka}", since - 1)
    except (KafkaError, TimeoutError) as exc:
        return {"hops": {}, "unfollowed": 0, "error": f"{type(exc).__name__}: {exc}"}
    return hops.breakdown(book, writes_seen, stamps, set(cat.cold))


async def hot_truth(http: httpx.AsyncClient, adjuster: str, cat: load.Catalog) -> dict[str, int]:
    """Reserved units and the lowest available over hot SKUs, from inventory-adjuster."""
    reserved, lowest = 0, cat.hot_stock
    for sku in cat.hot:
        body = (await http.get(f"{adjuster}/inventory/{sku}")).json()
        reserved += sum(int(lv.get("reserved", 0)) for lv in body["locations"].values())
        lowest = min(lowest, int(body.get("available", 0)))
    return {"hot_reserved": reserved, "lowest_available": lowest}


async def stranded(
    http: httpx.AsyncClient, sim: Sims, adjuster: str, cat: load.Catalog
) -> dict[str, Any]:
    """Hot units truth still holds after the sale, and where they are: what each store
    shows of them and truth's shares. Units no store shows are stranded (no buyer could
    take them); units shown only where demand is thin tell a share that moved too late."""
    shown = {
        shop: (await http.get(f"{sim.url_of(shop)}/_sim/stores/{shop}/inventory")).json()
        for shop in store_gids()
    }
    left: list[dict[str, Any]] = []
    for sku in cat.hot:
        body = (await http.get(f"{adjuster}/inventory/{sku}")).json()
        available = int(body.get("available", 0))
        if available <= 0:
            continue
        on_sale = {shop: sum(levels.get(sku, {}).values()) for shop, levels in shown.items()}
        left.append({"sku": sku, "available": available, "shares": body.get("shares"),
                     "shown": on_sale, "locations": body.get("locations")})  # fmt: skip
    by_store: Counter[str] = Counter()
    for row in left:
        by_store.update(row["shown"])
    unsold = sum(row["available"] for row in left)
    return {
        "units": unsold,
        "skus": len(left),
        "shown_by_store": dict(by_store),
        "not_shown": sum(max(0, r["available"] - sum(r["shown"].values())) for r in left),
        "rows": left[:STRANDED_ROWS],
    }


async def sync_state_of(stack: Stack, skus: list[str]) -> dict[str, Any]:
    """shopify-sync's own record of unsold hot SKUs (diagnosis of a stranded unit): each
    store's exposure (``<base>:<seen>``) and whether a change is still pending for it."""
    out: dict[str, Any] = {}
    async with Redis.from_url(
        stack.extra_env["STOCKSYNC_REDIS_URL"], decode_responses=True
    ) as redis:
        for sku in skus:
            exposure = await redis.hgetall(f"sync:exposure:{{{sku}}}")
            pending = {}
            for shop in store_gids():
                async for _field, value in redis.hscan_iter(
                    f"sync:pending:{{{shop}}}", match=f"{sku}\x1f*"
                ):
                    pending[shop] = value
            out[sku] = {
                "exposure": {str(k).split("\x1f")[0]: v for k, v in exposure.items()},
                "pending": pending,
            }
    return out


def timeline(
    book: dict[str, Any], writes_seen: list[dict[str, Any]], skus: list[str]
) -> dict[str, list[str]]:
    """Each SKU's sales and store writes in the order the simulator met them, one line each
    (``sale <shop> x<qty>``; ``write <shop> from <change_from> to <qty> met <count>
    <outcome>``, an adjustment ``write <shop> by <delta> to <qty> met <count> <outcome>``),
    times in seconds from the SKU's first line."""
    out: dict[str, list[str]] = {}
    for sku in skus:
        lines: list[tuple[float, str]] = []
        for sale in book["sales"]:
            if sale["sku"] == sku:
                at = float(sale["sold_at"])
                lines.append((at, f"sale {sale['shop'].split('.')[0]} x{sale['quantity']}"))
        for w in writes_seen:
            for q in w["quantities"]:
                if q["sku"] == sku:
                    how = (
                        f"from {q['change_from']}" if q.get("delta") is None
                        else f"by {q['delta']}"
                    )  # fmt: skip
                    lines.append((load.epoch_s(w["at"]), (
                        f"write {w['shop'].split('.')[0]} {how} to "
                        f"{q['quantity']} met {q['store_count']} {q['outcome']}"
                    )))  # fmt: skip
        lines.sort(key=lambda x: x[0])
        first = lines[0][0] if lines else 0.0
        out[sku] = [f"{at - first:7.3f} {text}" for at, text in lines]
    return out


async def measure(
    http: httpx.AsyncClient,
    sim: Sims,
    metrics_url: str | None,
    opts: Options,
    cat: load.Catalog,
    settle_s: float = SETTLE_S,
) -> dict[str, Any]:
    """Drive the planned sales, wait for webhooks and writes to settle, and judge."""
    shops = list(store_gids())
    sales = load.plan_sales(cat, shops, opts.orders, opts.hot_share, opts.seed, opts.demand)
    samples: list[tuple[float, float]] = []
    poller = None
    if metrics_url:
        labels = {"outcome": "applied"}
        name = "stocksync_inventory_commands_total"
        poller = asyncio.create_task(poll_metric(http, metrics_url, name, labels, samples))
    driven = await load.drive(http, sim, sales, opts.rate)
    book = await load.wait_delivered(http, sim, settle_s, every_s=opts.poll_s)
    cold = set(cat.cold)

    async def synced() -> bool:
        seen = load.sync_latencies(book, await load.writes(http, sim), cold)
        return not seen["missing"]

    try:
        settled = await wait_until("cold sales synced", synced, settle_s, every_s=opts.poll_s)
    except TimeoutError:
        settled = settle_s
    await asyncio.sleep(opts.land_s)  # let hot-SKU writes land; nothing asserts on this moment
    if poller:
        poller.cancel()
    writes_seen = await load.writes(http, sim)
    pairs, missing, sales_synced = load.sync_pairs(book, writes_seen, cold)
    return {
        "driven": asdict(driven),
        "webhooks": load.acks(book),
        "commands": load_rates(samples),
        "sync_latency_ms": load.latency_summary(missing, sales_synced),
        "oversell": load.oversell(book, cat),
        "demand": load.demand(sales, cat),
        "sell_through": load.sell_through(book, cat),
        "refusals": load.refusals(book, cat),
        "refused_by_store": book["refused"],
        "writes": {
            "total": len(writes_seen),
            "rejected": sum(1 for w in writes_seen if not w["ok"]),
        },
        "settle_s": round(settled, 2),
        "_book": book,  # for the hop split; popped before the results are kept
        "_writes": writes_seen,
        # (store, SKU) -> ms, to compare the sides on the same updates; popped by ``run``
        "_pairs": pairs,
    }


def load_rates(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in rates(samples).items()}


async def naive_run(opts: Options, infra: Infra, cat: load.Catalog) -> dict[str, Any]:
    """One series against the naive monolith (the smoke test's entry)."""
    return (await naive_series([("run", opts, cat)], infra))["run"]


async def naive_series(
    series: list[tuple[str, Options, load.Catalog]], infra: Infra
) -> dict[str, dict[str, Any]]:
    """Every series against the naive monolith, on one simulator: every catalog is seeded
    before the monolith starts (it reads its SKU map once)."""
    gids = store_gids()
    redis_url = with_db(infra.redis_url, 7)
    # its own ports, so that it can run beside a running system (the smoke tests do)
    infra = replace(infra, port_offset=infra.port_offset + NAIVE_PORTS)
    out: dict[str, dict[str, Any]] = {}
    sims = series[-1][1].sims
    plans = series[-1][1].plans
    with running_stack(
        infra, f"{SCENARIO}_naive", redis_db=7, names=["shopify-sim"], sims=sims, plans=plans
    ) as stack:
        sim = sims_of(stack)
        stock = {k: v for _l, _o, cat in series for k, v in cat.stock().items()}
        async with httpx.AsyncClient(timeout=30) as http:
            await load.seed_products(http, sim, gids, lambda _shop, sku: stock[sku], list(stock))
            mapping = {}
            for shop in gids:
                url = f"{sim.url_of(shop)}/_sim/stores/{shop}/products"
                products = (await http.get(url)).json()
                mapping[shop] = {p["sku"]: p["inventory_item_id"] for p in products}
            mapping_file = stack.state_dir / "naive-mapping.json"
            mapping_file.write_text(json.dumps(mapping))
            async with Redis.from_url(redis_url) as redis:
                await redis.mset({f"naive:stock:{s}": n for s, n in stock.items()})
            cmd = [
                sys.executable, "-m", "bench.naive_monolith",
                "--port", str(stack.port("webhook-receiver")), "--redis-url", redis_url,
                "--stores-file", str(stack.stores_file), "--mapping", str(mapping_file),
            ]  # fmt: skip
            stack.start_one("naive-monolith", cmd, port=stack.port("webhook-receiver"))
            stack.wait_healthy(60, names=("naive-monolith",))
            for label, opts, cat in series:
                await load.clear(http, sim)
                # what the naive sync has not written by then, it never will (no retry path)
                counting = cpu_use(cpu_groups(stack))
                result = await measure(http, sim, None, opts, cat, settle_s=NAIVE_SETTLE_S)
                result["cpu"] = counting()
                del result["_book"], result["_writes"]
                # one synchronous request: no hops to split; it has no shares to move
                out[label] = result | {"share_moves": None, "hops": None}
                print(f"naive {label}: sync {result['sync_latency_ms']['all']}")  # noqa: T201
                print(f"naive {label}: cpu {result['cpu']}", flush=True)  # noqa: T201
    return out


def failures(data: dict[str, Any]) -> list[str]:
    """Correctness problems of StockSync only (every series): the naive run is expected to
    oversell."""
    sides = {f"{r['label']}: ": r["stocksync"] for r in data.get("runs", [])}
    sides = sides or {"": data["stocksync"]}
    return [f"{label}{f}" for label, s in sides.items() for f in side_failures(s)]


def side_failures(s: dict[str, Any]) -> list[str]:
    out = []
    if s["oversell"]["units_beyond_stock"]:
        out.append(f"StockSync oversold {s['oversell']['units_beyond_stock']} units")
    if s["webhooks"]["failed"] or s["driven"]["errors"]:
        failed, errors = s["webhooks"]["failed"], s["driven"]["errors"]
        out.append(f"webhooks failed: {failed}, load errors {errors}")
    if s["sync_latency_ms"]["missing"]:
        out.append(f"sales never synced to a store: {s['sync_latency_ms']['missing']}")
    if s["truth"]["lowest_available"] < 0:
        out.append(f"truth went below zero: {s['truth']}")
    if s["truth"]["hot_reserved"] != s["oversell"]["hot_units_sold"]:
        out.append(f"hot units sold {s['oversell']['hot_units_sold']} != reserved {s['truth']}")
    return out


async def run(opts: Options, infra: Infra) -> dict[str, Any]:
    prefix = f"FS{uuid.uuid4().hex[:6]}"
    series = [
        (label, o, load.catalog(f"{prefix}{i}", o.skus, o.hot, o.hot_stock, o.cold_stock))
        for i, (label, o) in enumerate(opts.series())
    ]
    data: dict[str, Any] = {"options": asdict(opts), "stores": store_limits(opts.plans)}
    ours = await stocksync_run(series, infra)
    naive = await naive_series(series, infra)
    data["runs"] = [
        {"label": label, "rate": o.rate, "orders": o.orders, "stocksync": ours[label],
         "naive": naive[label],
         "matched": load.matched(ours[label].pop("_pairs"), naive[label].pop("_pairs"))}
        for label, o, _cat in series
    ]  # fmt: skip
    # the summary and the flash-sale target read the highest rate's run
    top = data["runs"][-1]
    data["options"]["rate"] = top["rate"]
    data["stocksync"], data["naive"] = top["stocksync"], top["naive"]
    data["failures"] = failures(data)
    return data


def store_limits(plans: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each store's plan and the writes per second its restore rate pays for at most
    (``inventorySetQuantities`` costs 10 points): a store that gets a change more often than
    that waits for its bucket, whatever the sync does."""
    doc = SimFleet.plan(ROOT / ".work" / "bench", 0, 3, plans).stores_doc()
    out: dict[str, dict[str, Any]] = {}
    for store in doc["stores"]:
        plan = str(store.get("plan", "standard"))
        out[store["shop"]] = {"plan": plan, "writes_per_s": PLAN_RESTORE_RATES[plan] / 10}
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.flash_sale", description=__doc__.split("\n\n")[0])
    d = Options()
    for name in ("skus", "hot", "hot_stock", "cold_stock", "seed"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("rate", "duration", "hot_share"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    p.add_argument(
        "--demand",
        type=load.parse_demand,
        default=d.demand,
        help="demand weights per store, in the stores file's order (70,28,2)",
    )
    p.add_argument(
        "--rates",
        type=lambda t: tuple(float(x) for x in t.split(",")),
        default=(),
        help="loaded runs at these orders/s, one after another (40,200,1000); default: --rate",
    )
    p.add_argument(
        "--idle", type=int, default=d.idle, help="single cold-SKU sales, 300 ms apart, first"
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy the top rate's run (docs/profiling.md)"
    )
    p.add_argument(
        "--sims",
        type=int,
        choices=SIMS,
        default=d.sims,
        help="Shopify simulator processes for both sides: 3, one per store; 1, one for all",
    )
    p.add_argument(
        "--plans",
        type=lambda t: tuple(x.strip() for x in t.split(",") if x.strip()),
        default=(),
        help="each store's Shopify plan, in the stores file's order (plus,plus,plus): its "
        "API rate limit; default: the stores file's (plus, advanced, standard)",
    )
    add_service_env_arg(p)
    p.add_argument("--smoke", action="store_true", help="tiny load; never touches the docs")
    p.add_argument("--no-doc", action="store_true")
    add_infra_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts = SMOKE if args.smoke else Options(
        args.skus, args.hot, args.hot_stock, args.cold_stock, args.rate, args.duration,
        args.hot_share, args.seed,
    )  # fmt: skip
    if args.plans and args.sims != 3:
        raise SystemExit("--plans needs one simulator per store (--sims 3)")
    opts = replace(
        opts, seed=args.seed, demand=tuple(args.demand), sims=args.sims, plans=args.plans,
        service_env=tuple(args.service_env),
    )  # fmt: skip
    if not args.smoke:
        opts = replace(opts, rates=tuple(sorted(args.rates)), idle=args.idle,
                       profile=args.profile)  # fmt: skip
    at, box = now_utc(), machine()
    data = asyncio.run(run(opts, infra_of(args)))
    # another mix of plans is a section (and results file) of its own
    scenario = "_".join([SCENARIO, *opts.plans])
    title = "Flash sale across three stores: StockSync vs naive sync" + (
        f" (plans {', '.join(opts.plans)})" if opts.plans else ""
    )
    return finish(scenario, title, data, at=at, box=box, doc=not args.no_doc, smoke=args.smoke,
                  render=render, brief=lambda _d: {})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
