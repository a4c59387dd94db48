"""Sustained throughput ceiling: inventory commands at rising rates until lag grows unbounded.

    uv run python -m bench.knee [--rates 1000,2000,4000,8000,12000,16000] [--step-s 10]
        [--skus 2000] [--bootstrap ...] [--redis-url ...] [--port-offset 10000] [--smoke]

The system runs as processes (``SYSTEM`` of bench.live). ``adjust`` commands (+1 to one of
``--skus`` SKUs, each a new idempotency key) are produced straight onto
``inventory.commands.v1`` at each rate for ``--step-s`` seconds; inventory-adjuster applies
them and publishes changes, shopify-sync coalesces them into writes to the three simulated
stores. After each step: the adjuster's applied rate (its metrics) and the lag of its group
and of shopify-sync's. A step that grew the adjuster's backlog by more than half a second of
its rate (produced minus applied, 2 s after the step) means lag grows without bound: the
knee is the best applied rate of the steps before.
Exit status 1 only if commands were lost (applied + duplicates != produced once drained).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench import load
from bench.live import (
    SYSTEM,
    Infra,
    Stack,
    add_infra_args,
    infra_of,
    running_stack,
    sample_metric,
    store_gids,
)
from bench.prepare import load_catalog, wait_until
from bench.profile import hotspots, spy
from bench.report import (
    ROOT,
    finish,
    machine,
    machine_line,
    now_utc,
    table,
)
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_COMMANDS

SCENARIO = "knee"
TARGET = 12_000
APPLIED = "stocksync_inventory_commands_total"
GRACE_S = 2.0


@dataclass(frozen=True)
class Options:
    rates: tuple[int, ...] = (250, 500, 750, 1000, 2000, 4000, 8000, 12000, 16000)
    step_s: float = 10.0
    skus: int = 2000
    profile: bool = False  # py-spy on the hottest services during the steps
    grace_s: float = GRACE_S  # after a step, for what is in flight to drain


PROFILED = ("webhook-receiver", "order-consumer", "inventory-adjuster", "shopify-sync")
SMOKE = Options(rates=(200, 400), step_s=1.5, skus=50, grace_s=1.0)


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """End offsets minus the group's committed offsets, summed over partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        # the partitions the group has committed on (after the catalog load, all of them)
        parts = [tp for tp in committed if tp.topic == topic]
        ends = await consumer.end_offsets(parts) if parts else {}
        return sum(end - committed[tp].offset for tp, end in ends.items())
    finally:
        await admin.close()
        await stop_consumer(consumer)


def template() -> bytes:
    """One encoded ``adjust`` command with placeholders: building a pydantic model per
    message would make the generator, not the system, the bottleneck."""
    cmd = InventoryCommand(command="adjust", idempotency_key="knee:@KEY@", sku="@SKU@",
                           location="wh-1", quantity=1, reason="bench")  # fmt: skip
    event = InventoryCommandRequested(id="@ID@", correlation_id="@ID@", payload=cmd,
                                      source="bench.knee")  # fmt: skip
    return encode(event)


TEMPLATE = template()


def command(sku: str, n: int, run: str) -> bytes:
    key = f"{run}-{n}".encode()
    return TEMPLATE.replace(b"@KEY@", key).replace(b"@SKU@", sku.encode()).replace(b"@ID@", key)


async def produce(producer: AIOKafkaProducer, skus: list[str], rate: int, seconds: float) -> int:
    """Open-loop at ``rate``/s for ``seconds``; returns how many were produced."""
    sent, start, run = 0, time.monotonic(), uuid.uuid4().hex[:12]
    futures = []
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(rate * elapsed) - sent
        for i in range(due):
            sku = skus[(sent + i) % len(skus)]
            value = command(sku, sent + i, run)
            futures.append(await producer.send(INVENTORY_COMMANDS, value, key=sku.encode()))
        sent += max(due, 0)
        await asyncio.sleep(0.01)
    await asyncio.gather(*futures)
    return sent


async def applied(http: httpx.AsyncClient, adjuster: str) -> float:
    text = (await http.get(f"{adjuster}/metrics")).text
    return sample_metric(text, APPLIED, {"command": "adjust"})


async def step(
    http: httpx.AsyncClient, adjuster: str, producer: AIOKafkaProducer, bootstrap: str,
    skus: list[str], rate: int, seconds: float, grace_s: float = GRACE_S,
) -> dict[str, Any]:  # fmt: skip
    before, t0 = await applied(http, adjuster), time.monotonic()
    lag_start = await group_lag(bootstrap, "inventory-adjuster", INVENTORY_COMMANDS)
    sent = await produce(producer, skus, rate, seconds)
    produce_s = time.monotonic() - t0
    after, t1 = await applied(http, adjuster), time.monotonic()
    lag_end = await group_lag(bootstrap, "inventory-adjuster", INVENTORY_COMMANDS)
    sync_lag = await group_lag(bootstrap, "shopify-sync", INVENTORY_CHANGED)
    # A bounded system drains what is in flight within a moment of the load stopping; a
    # backlog of more than half a second of the rate left after the grace is one that grows.
    await asyncio.sleep(grace_s)
    backlog_added = sent - (await applied(http, adjuster) - before)
    return {
        "rate": rate,
        "produced": sent,
        "backlog_added": backlog_added,
        "produced_per_s": round(sent / produce_s, 1),
        "applied_per_s": round((after - before) / (t1 - t0), 1),
        "adjuster_lag_start": lag_start,
        "adjuster_lag_end": lag_end,
        "shopify_sync_lag_end": sync_lag,
        "unbounded": backlog_added > rate / 2,
    }


async def run(opts: Options, infra: Infra) -> dict[str, Any]:
    with running_stack(infra, SCENARIO, redis_db=8, names=SYSTEM) as stack:
        return await measure(stack, infra.bootstrap, opts)


async def measure(stack: Stack, bootstrap: str, opts: Options) -> dict[str, Any]:
    """The steps on a running system (any earlier runs used other SKUs)."""
    cat = load.catalog(f"KN{uuid.uuid4().hex[:6]}", opts.skus, 0, 0, 1000)
    steps: list[dict[str, Any]] = []
    sim, adjuster = stack.url("shopify-sim"), stack.url("inventory-adjuster")
    async with httpx.AsyncClient(timeout=30) as http:
        await load_catalog(http, sim, adjuster, store_gids(), cat)
        start_applied = await applied(http, adjuster)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    linger_ms=5)  # fmt: skip
        await producer.start()
        pids = {n: stack.procs[n].pid for n in PROFILED if n in stack.procs}
        profiling: AbstractContextManager[dict[str, Path]] = (
            spy(pids, ROOT / ".work" / "bench" / "profiles") if opts.profile else nullcontext({})
        )
        try:
            with profiling as files:
                for rate in opts.rates:
                    steps.append(await step(http, adjuster, producer, bootstrap,
                                            cat.cold, rate, opts.step_s, opts.grace_s))  # fmt: skip
                    if steps[-1]["unbounded"]:
                        break
        finally:
            await producer.stop()
        profiles = {name: hotspots(path) for name, path in files.items()}
        produced = sum(s["produced"] for s in steps)

        async def drained() -> bool:
            return bool(await applied(http, adjuster) - start_applied >= produced)

        try:
            drain_s = await wait_until("backlog applied", drained, 180)
        except TimeoutError:
            drain_s = -1.0
        total = await applied(http, adjuster) - start_applied
    bounded = [s for s in steps if not s["unbounded"]]
    # sustained: the highest rate it kept up with (all applied within GRACE_S of the step)
    knee = max((s["produced_per_s"] for s in bounded), default=0.0)
    failures = [] if total == produced else [f"applied {total:.0f} of {produced} commands"]
    return {"options": asdict(opts), "steps": steps, "knee_per_s": knee, "drain_s": drain_s,
            "applied": total, "produced": produced, "failures": failures,
            "profiles": profiles}  # fmt: skip


def render(data: dict[str, Any], results: str) -> str:
    rows = [
        [f"{s['rate']:,}", f"{s['produced_per_s']:,.0f}", f"{s['applied_per_s']:,.0f}",
         f"{s['adjuster_lag_start']:,} -> {s['adjuster_lag_end']:,}",
         f"{s['shopify_sync_lag_end']:,}", f"{s.get('backlog_added', 0):,.0f}",
         "grows" if s["unbounded"] else "bounded"]
        for s in data["steps"]
    ]  # fmt: skip
    met = "met" if data["knee_per_s"] >= TARGET else "**not met**"
    top = max((s["produced_per_s"] for s in data["steps"]), default=0.0)
    over = next((s for s in data["steps"] if s["unbounded"]), None)
    if over is not None:
        knee_line = (
            f"Knee: sustained **{data['knee_per_s']:,.0f} commands/s** (the highest rate it kept "
            f"up with); at {over['rate']:,}/s offered it applied {over['applied_per_s']:,.0f}/s "
            "and fell behind"
        )
    else:
        knee_line = (
            f"Knee **not reached**: lag stayed bounded up to the highest rate the generator "
            f"produced ({top:,.0f}/s), so the ceiling is above "
            f"**{data['knee_per_s']:,.0f} commands/s**; the generator was the limit"
        )
    o = data["options"]
    return "\n".join([
        f"`adjust` commands produced straight onto `inventory.commands.v1` for {o['step_s']:g} s "
        f"per step over {o['skus']:,} SKUs, the whole system running (the adjuster publishes "
        "every change; shopify-sync coalesces them into writes to three simulated stores).",
        "",
        table(["offered/s", "produced/s", "applied/s", "adjuster lag start -> end",
               "shopify-sync lag at end", "backlog 2 s later", "lag"], rows),  # fmt: skip
        "",
        f"{knee_line}; target >= {TARGET:,}/s sustained: {met}. Every produced command was applied "
        f"({data['applied']:,.0f} of {data['produced']:,}), backlog drained "
        f"{data['drain_s']:.1f} s after the last step. Where the time goes: "
        "[profiling.md](profiling.md).",
        "",
        f"- Machine: {machine_line(data['machine'])}",
        f"- Date: {data['date'][:16].replace('T', ' ')} UTC",
        f"- Command: `{data['command']}`",
        f"- Raw results: `{results}`",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.knee", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default=",".join(str(r) for r in Options.rates))
    p.add_argument("--step-s", type=float, default=Options.step_s)
    p.add_argument("--skus", type=int, default=Options.skus)
    p.add_argument("--profile", action="store_true", help="py-spy the services (see profiling.md)")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-doc", action="store_true")
    add_infra_args(p)
    args = p.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(","))
    opts = SMOKE if args.smoke else Options(rates, args.step_s, args.skus, args.profile)
    at, box = now_utc(), machine()
    data = asyncio.run(run(opts, infra_of(args)))
    return finish(SCENARIO, "Sustained throughput ceiling (knee)", data, at=at, box=box,
                  doc=not args.no_doc, smoke=args.smoke, render=render,
                  brief=lambda d: {"knee_per_s": d["knee_per_s"]})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
