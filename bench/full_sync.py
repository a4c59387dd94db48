"""Full sync: a 10,000-SKU catalog pushed to three Shopify stores on different plans.

The Shopify simulator runs as its own process (standard, advanced and plus stores, their
own buckets). shopify-sync runs in this process with its real Kafka consumer, Redis state,
lanes and HTTP client. Two phases:

1. **full sync**: every store lists the catalog at a stale level; truth for every SKU
   arrives on the changes topic; measured until every store equals truth.
2. **at the limit**: changes to random SKUs stream faster than any bucket pays for, so
   each lane spends what its restore rate gives. Measured after the buckets ran dry:
   points used per second as a share of each restore rate, and THROTTLED answers.

    uv run python -m bench.full_sync [--skus 10000] [--sustain-s 20] [--smoke]
        [--kafka 127.0.0.1:9092] [--redis-url redis://127.0.0.1:6379/0]

Exit status 1 only for a correctness failure (a THROTTLED answer, a store not equal to
truth); speed never fails the run. Results: bench/results/full_sync-<time>.json and the
``## Full sync`` section of docs/benchmarks.md (only that section is rewritten).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI

from bench.report import machine, machine_line
from shopify_sync.entrypoints.app import create_app
from shopify_sync.settings import Settings
from stocksync_common.events import InventoryChanged, Levels, StockChange, encode
from stocksync_common.kafka import env_security
from stocksync_common.transport import kafka_options

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:full_sync:start -->", "<!-- bench:full_sync:end -->"
PLANS = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0}
LOC = "gid://shopify/Location/1"
INTRO = "# Benchmarks\n\nFigures measured by the scripts in `bench/`, each in its own section.\n"


@dataclass(frozen=True)
class Run:
    skus: int
    sustain_s: float
    rate: int  # changes per second in the at-the-limit phase
    kafka: str
    redis_url: str
    smoke: bool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def simulator(stores: list[dict[str, Any]], workdir: Path) -> AsyncIterator[str]:
    path = workdir / "sim-stores.yaml"
    path.write_text(yaml.safe_dump({"stores": stores}))
    port = free_port()
    cmd = [sys.executable, "-m", "stocksync_sim.shopify", "--port", str(port), "--stores-file",
           str(path), "--bulk-delay", "0.2", "--max-recorded-requests", "1000"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the simulator did not start")
        yield url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def change(sku: str, version: int, available: int) -> bytes:
    lv = Levels(on_hand=available, available=available)
    payload = StockChange(
        sku=sku, location="wh-1", command="set_on_hand", idempotency_key=f"{sku}:{version}",
        version=version, before=lv, after=lv, sku_available_before=available,
        sku_available_after=available,
    )  # fmt: skip
    return encode(InventoryChanged(source="bench", payload=payload))


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 6, 1) for n in names])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        with contextlib.suppress(Exception):
            await admin.delete_topics(names)
    finally:
        await admin.close()


class Bench:
    def __init__(self, run: Run, sim: httpx.AsyncClient, shops: dict[str, str]) -> None:
        self.run = run
        self.sim = sim
        self.shops = shops  # shop -> plan

    async def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self.sim.get("/_sim/stats")).json()
        return data

    async def equal(self, truth: dict[str, int]) -> dict[str, int]:
        """Mismatches per shop."""
        out = {}
        for shop in self.shops:
            inv = (await self.sim.get(f"/_sim/stores/{shop}/inventory")).json()
            out[shop] = sum(1 for s, n in truth.items() if (inv.get(s) or {}).get(LOC) != n)
        return out

    async def seed(self, skus: list[str]) -> None:
        body = [{"sku": s, "quantities": {LOC: 0}} for s in skus]
        for shop in self.shops:
            for start in range(0, len(body), 2500):
                r = await self.sim.post(
                    f"/_sim/stores/{shop}/products", json=body[start : start + 2500]
                )
                r.raise_for_status()

    async def full_sync(
        self, producer: AIOKafkaProducer, topic: str, truth: dict[str, int]
    ) -> dict[str, Any]:
        before = await self.stats()
        started = time.monotonic()
        futures = [
            await producer.send(topic, change(s, 1, n), key=s.encode()) for s, n in truth.items()
        ]
        await asyncio.gather(*futures)
        done: dict[str, float] = {}
        deadline = started + (60 if self.run.smoke else 900)
        while len(done) < len(self.shops) and time.monotonic() < deadline:
            now = await self.stats()  # cheap: counters, not 10,000 levels per store
            for shop in self.shops:
                set_ = now[shop]["quantities_set"] - before[shop]["quantities_set"]
                if shop not in done and set_ >= len(truth):
                    done[shop] = time.monotonic() - started
            await asyncio.sleep(0.05)
        after = await self.stats()
        return self.report(before, after, done, await self.equal(truth))

    def report(self, before: dict[str, Any], after: dict[str, Any], done: dict[str, float],
               mismatches: dict[str, int]) -> dict[str, Any]:  # fmt: skip
        out: dict[str, Any] = {}
        for shop, plan in self.shops.items():
            b, a = before[shop], after[shop]
            seconds = done.get(shop)
            points = a["points"] - b["points"]
            rate = PLANS[plan]
            out[shop] = {
                "plan": plan,
                "restore_rate": rate,
                "seconds": round(seconds, 3) if seconds else None,
                "points": points,
                "requests": a["requests"] - b["requests"],
                "mutations": a["mutations"] - b["mutations"],
                "throttled": a["throttled"] - b["throttled"],
                "points_per_s": round(points / seconds, 1) if seconds else None,
                "share_of_restore_rate": round(points / seconds / rate, 3) if seconds else None,
                "mismatches": mismatches.get(shop, 0),
            }
        return out

    async def at_the_limit(
        self, producer: AIOKafkaProducer, topic: str, skus: list[str]
    ) -> dict[str, Any]:
        """Stream changes at ``rate`` per second; measure once each bucket is nearly dry."""
        rng = random.Random(7)  # noqa: S311 - a workload, not a secret
        stop = asyncio.Event()
        version = 10

        async def feed() -> None:
            nonlocal version
            tick = 0.01
            per_tick = max(1, int(self.run.rate * tick))
            while not stop.is_set():
                version += 1
                for _ in range(per_tick):
                    sku = rng.choice(skus)
                    await producer.send(
                        topic, change(sku, version, rng.randint(0, 50)), key=sku.encode()
                    )
                await asyncio.sleep(tick)

        task = asyncio.create_task(feed())
        try:
            # Let the buckets run dry first (standard: 2000 points at the net rate demand
            # minus restore), or give up waiting and measure anyway.
            deadline = time.monotonic() + (3.0 if self.run.smoke else 90.0)
            while time.monotonic() < deadline:
                levels = await self.stats()
                if all(levels[s]["throttle_status"]["currentlyAvailable"]
                       < 0.1 * levels[s]["throttle_status"]["maximumAvailable"]
                       for s in self.shops):  # fmt: skip
                    break
                await asyncio.sleep(0.5)
            t1, s1 = time.monotonic(), await self.stats()
            await asyncio.sleep(self.run.sustain_s)
            t2, s2 = time.monotonic(), await self.stats()
        finally:
            stop.set()
            await task
        window = t2 - t1
        out = {}
        for shop, plan in self.shops.items():
            points = s2[shop]["points"] - s1[shop]["points"]
            out[shop] = {
                "plan": plan,
                "restore_rate": PLANS[plan],
                "window_s": round(window, 2),
                "points": points,
                "points_per_s": round(points / window, 1),
                "share_of_restore_rate": round(points / window / PLANS[plan], 3),
                "throttled": s2[shop]["throttled"] - s1[shop]["throttled"],
                "bucket_at_start": s1[shop]["throttle_status"]["currentlyAvailable"],
                "bucket_at_end": s2[shop]["throttle_status"]["currentlyAvailable"],
                "mutations": s2[shop]["mutations"] - s1[shop]["mutations"],
            }
        return out


@dataclass(frozen=True)
class Rig:
    """A simulator process with the stores, per-run topics and shopify-sync settings."""

    url: str
    settings: Settings
    changes_topic: str


@contextlib.asynccontextmanager
async def sync_rig(
    kafka: str, redis_url: str, stores: list[dict[str, Any]], tag: str, **overrides: Any
) -> AsyncIterator[Rig]:
    """The simulator (as a process) serving ``stores``, fresh topics and consumer groups for
    this run only (deleted afterwards), and the Settings of a shopify-sync against them."""
    names = ("changes", "webhooks", "levels", "catalog")
    topics = {n: f"bench.{tag}.{n}" for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with simulator(stores, workdir) as url:
            for s in stores:
                s["admin_base_url"] = url
            (workdir / "stores.yaml").write_text(yaml.safe_dump({"stores": stores}))
            await create_topics(kafka, list(topics.values()))
            try:
                settings = Settings(
                    kafka_bootstrap_servers=kafka, redis_url=redis_url,
                    stores_file=str(workdir / "stores.yaml"), consumer_group=f"bench-sync-{tag}",
                    catalog_consumer_group=f"bench-sync-catalog-{tag}",
                    propagation_consumer_group=f"bench-sync-propagation-{tag}",
                    changes_topic=topics["changes"], webhooks_topic=topics["webhooks"],
                    levels_topic=topics["levels"], catalog_topic=topics["catalog"],
                    reconcile_interval_s=0, topic_partitions=6, bulk_poll_s=0.1,
                    log_level="WARNING", **overrides,
                )  # fmt: skip
                yield Rig(url, settings, topics["changes"])
            finally:
                await delete_topics(kafka, list(topics.values()))


@contextlib.asynccontextmanager
async def sync_running(
    settings: Settings, linger_ms: int
) -> AsyncIterator[tuple[FastAPI, AIOKafkaProducer]]:
    """shopify-sync in this process (its whole lifespan) and a producer for changes."""
    app = create_app(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **kafka_options(env_security()),
        linger_ms=linger_ms,
    )
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            yield app, producer
    finally:
        await producer.stop()


async def main_async(run: Run) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    shops = {f"bench-{tag}-{plan}.myshopify.com": plan for plan in PLANS}
    stores = [
        {"shop": shop, "admin_base_url": "", "access_token": f"tok-{shop}", "webhook_secret": "s",
         "plan": plan, "locations": {"wh-1": LOC}}
        for shop, plan in shops.items()
    ]  # fmt: skip
    skus = [f"FS-{i:05d}" for i in range(run.skus)]
    truth = {s: (i * 7) % 23 + 1 for i, s in enumerate(skus)}
    async with (
        sync_rig(run.kafka, run.redis_url, stores, tag) as rig,
        httpx.AsyncClient(base_url=rig.url, timeout=60) as sim,
    ):
        bench = Bench(run, sim, shops)
        await bench.seed(skus)
        async with sync_running(rig.settings, linger_ms=5) as (_app, producer):
            full = await bench.full_sync(producer, rig.changes_topic, truth)
            limit = await bench.at_the_limit(producer, rig.changes_topic, skus)
    return {"full_sync": full, "at_the_limit": limit}


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def section(run: Run, result: dict[str, Any], at: datetime, command: str) -> str:
    full, limit = result["full_sync"], result["at_the_limit"]
    rows = [
        row(v["plan"], f"{v['restore_rate']:.0f}", v["seconds"], v["mutations"],
            f"{v['points']:.0f}", v["points_per_s"], v["share_of_restore_rate"], v["throttled"],
            v["mismatches"])
        for v in full.values()
    ]  # fmt: skip
    lim = [
        row(v["plan"], f"{v['restore_rate']:.0f}", v["window_s"], f"{v['points']:.0f}",
            v["points_per_s"], f"**{v['share_of_restore_rate']:.0%}**", v["throttled"],
            f"{v['bucket_at_start']} -> {v['bucket_at_end']}")
        for v in limit.values()
    ]  # fmt: skip
    return "\n".join([
        "## Full sync",
        "",
        f"{run.skus:,} SKUs pushed to three simulated stores on different plans (simulator as a "
        "process; shopify-sync in process on the real Kafka and Redis). Machine: "
        f"{machine_line(machine())}. Date: {at.strftime('%Y-%m-%d %H:%M UTC')}. "
        f"Command: `{command}`.",
        "",
        "**Full sync** (every store stale, truth for every SKU arrives; until every store "
        "equals truth; catalog discovered with one bulk query per store):",
        "",
        row("plan", "restore/s", "seconds", "mutations", "points", "points/s",
            "share of restore", "THROTTLED", "mismatches"),
        "|---" * 9 + "|",
        *rows,
        "",
        "A 250-quantity `inventorySetQuantities` costs 10 points (Shopify's published cost of a "
        "mutation), so the whole catalog costs ~400 points per store, less than any plan's "
        "bucket (20 s of restore): the full sync is bound by latency, not by the budget, and its "
        "points/s share is not a pacing figure.",
        "",
        f"**At the limit** ({run.rate} changes/s to random SKUs, measured for "
        f"{run.sustain_s:.0f} s once the buckets ran dry or after 90 s: few changes per call, "
        "so many 10-point calls; a lane whose demand exceeds its budget lives on its "
        "restore rate):",
        "",
        row("plan", "restore/s", "window s", "points", "points/s",
            "share of restore (target >= 90%)", "THROTTLED (target 0)", "bucket start -> end"),
        "|---" * 8 + "|",
        *lim,
        "",
        "A lane is budget-bound when its calls would cost more than its restore rate (standard "
        "here: the bucket stays dry and every restored point is spent). A lane that keeps up "
        "with fewer calls than its budget pays for (plus: reaching 90% of 1,000 points/s takes "
        "100 calls/s, and coalescing makes them unnecessary) spends less; that is demand, not "
        "pacing. THROTTLED stays 0 in both regimes.",
        "",
        f"Raw results: `bench/results/full_sync-{at.strftime('%Y%m%dT%H%M%SZ')}.json`.",
    ])  # fmt: skip


def update_doc(body: str, doc: Path = DOC) -> None:
    """Rewrite only this bench's section; others write theirs concurrently (lock, re-read)."""
    doc.parent.mkdir(parents=True, exist_ok=True)
    block = f"{START}\n{body.strip()}\n{END}"
    with open(Path(tempfile.gettempdir()) / "stocksync-benchmarks-doc.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = doc.read_text() if doc.exists() else INTRO
        if START in text and END in text:
            head, rest = text.split(START, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        tmp = doc.with_suffix(f".md.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(doc)


def failures(result: dict[str, Any]) -> list[str]:
    out = []
    for phase in ("full_sync", "at_the_limit"):
        for shop, v in result[phase].items():
            if v["throttled"]:
                out.append(f"{phase}: {shop} answered THROTTLED {v['throttled']} times")
            if v.get("mismatches"):
                out.append(f"{phase}: {shop} has {v['mismatches']} levels off truth")
    return out


def parse(argv: list[str] | None = None) -> Run:
    p = argparse.ArgumentParser(prog="bench.full_sync", description=__doc__.split("\n\n")[0])
    p.add_argument("--skus", type=int, default=10_000)
    p.add_argument("--sustain-s", type=float, default=20.0)
    p.add_argument(
        "--rate", type=int, default=60,
        help="changes/s in the at-the-limit phase: few per call, so many calls",
    )  # fmt: skip
    p.add_argument(
        "--kafka", default=os.environ.get("STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("STOCKSYNC_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument("--smoke", action="store_true", help="small and quick: correctness only")
    a = p.parse_args(argv)
    if a.smoke:
        return Run(500, 3.0, 60, a.kafka, a.redis_url, True)
    return Run(a.skus, a.sustain_s, a.rate, a.kafka, a.redis_url, False)


def main(argv: list[str] | None = None) -> int:
    run = parse(argv)
    at = datetime.now(UTC)
    command = shlex.join(["uv", "run", "python", "-m", "bench.full_sync", *(argv or sys.argv[1:])])
    result = asyncio.run(main_async(run))
    doc = {"scenario": "full_sync", "at": at.isoformat(), "command": command, "machine": machine(),
           "run": run.__dict__, **result}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"full_sync-{at.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if not run.smoke:
        update_doc(section(run, result, at, command))
    problems = failures(result)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
