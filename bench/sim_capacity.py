"""What the Shopify simulator alone sustains: storefront sales and their webhooks.

    uv run python -m bench.sim_capacity [--rates 200,1000] [--duration 10] [--skus 10000]
        [--sims 1] [--base-port 28190]

No StockSync at all: the simulator (one process for the three stores, or ``--sims 3``: one
process per store) sells seeded one-unit orders at each rate through its storefront
(``POST /_sim/storefront/sell``, what ``bench.flash_sale`` drives) and delivers every
``orders/create`` to a trivial receiver (a process of its own that answers 200 at once and
notes when each webhook arrived). Per rate: sales offered and achieved per second, the
storefront call's latency, webhooks delivered, how long the last ones took to drain, and
the delivery lag (sale -> webhook at the receiver) p50/p99/max, plus the simulator's CPU.
A measurement, never a judgement: exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.live import store_gids, summary
from bench.report import ROOT
from bench.sim_fleet import SimFleet, fleet_commands

RECEIVER_APP = "bench.sim_capacity:receiver_app"


async def receiver_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app: POST -> 200 at once (webhook id and arrival noted); GET -> the notes."""
    if scope["type"] != "http":
        return
    seen: dict[str, float] = receiver_app.__dict__.setdefault("seen", {})
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
        headers = dict(scope["headers"])
        seen[headers.get(b"x-shopify-webhook-id", b"").decode()] = time.time()
        body = b"{}"
    else:
        body = json.dumps(seen).encode()
        if scope["method"] == "DELETE":
            seen.clear()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    http: httpx.AsyncClient, fleet: SimFleet, sales: list[dict[str, Any]], rate: float
) -> dict[str, Any]:
    """Send ``sales`` at ``rate``/s in batches every 50 ms (one call per simulator per tick,
    as the flash sale's driver does); the call latencies are kept."""
    start, offered, sold, errors = time.monotonic(), 0, 0, 0
    calls: list[float] = []

    async def call(url: str, batch: list[dict[str, Any]]) -> int:
        t0 = time.perf_counter()
        try:
            r = await http.post(f"{url}/_sim/storefront/sell", json={"sales": batch})
            r.raise_for_status()
            return int(r.json()["sold"])
        finally:
            calls.append((time.perf_counter() - t0) * 1000)

    while offered < len(sales):
        due = min(len(sales), int(rate * (time.monotonic() - start)) + 1) - offered
        if due > 0:
            batch, offered = sales[offered : offered + due], offered + due
            parts = fleet.split(batch)
            done = await asyncio.gather(*(call(u, b) for u, b in parts), return_exceptions=True)
            for n, (_u, b) in zip(done, parts, strict=True):
                if isinstance(n, BaseException):
                    errors += len(b)
                else:
                    sold += n
        await asyncio.sleep(0.05)  # pacing of the generator, nothing waits on it
    seconds = time.monotonic() - start
    return {
        "offered": offered, "sold": sold, "errors": errors, "seconds": round(seconds, 2),
        "achieved_per_s": round(offered / seconds, 1), "sell_call_ms": summary(calls),
    }  # fmt: skip


async def one_rate(
    http: httpx.AsyncClient, fleet: SimFleet, receiver: str, rate: float, args: argparse.Namespace
) -> dict[str, Any]:
    rng = random.Random(rate)  # noqa: S311 - a reproducible load, not security
    shops = list(store_gids())
    skus = [f"CAP-{i:05d}" for i in range(args.skus)]
    sales = [{"shop": rng.choices(shops, (70, 28, 2))[0], "sku": rng.choice(skus), "quantity": 1}
             for _ in range(int(rate * args.duration))]  # fmt: skip
    for url in fleet.urls():
        (await http.delete(f"{url}/_sim/storefront/sales")).raise_for_status()
    (await http.delete(f"{receiver}/")).raise_for_status()
    cpu0 = {pid: cpu_s(pid) for pid in fleet.pids()}
    driven = await drive(http, fleet, sales, rate)
    print(json.dumps({"rate": rate, "driven": driven}), flush=True)  # noqa: T201 - first
    end = time.monotonic()
    while time.monotonic() - end < 60:
        try:
            pending = [(await http.get(f"{u}/_sim/storefront/pending")).json()["pending"]
                       for u in fleet.urls()]  # fmt: skip
        except httpx.HTTPError:
            continue  # a simulator too busy to answer in 30 s: the deadline bounds the wait
        if not sum(pending):
            break
        await asyncio.sleep(0.1)
    drained_s = time.monotonic() - end
    cpu = sum(cpu_s(pid) - cpu0[pid] for pid in cpu0)
    seen: dict[str, float] = (await http.get(f"{receiver}/")).json()
    book: list[dict[str, Any]] = []
    for url in fleet.urls():
        r = await http.get(f"{url}/_sim/storefront/sales", timeout=120)
        book.extend(r.json()["sales"])
    lag = [(seen[s["webhook_id"]] - s["sold_at"]) * 1000 for s in book if s["webhook_id"] in seen]
    acks = [s["ack_ms"] for s in book if s["ack_ms"] is not None]
    return {"rate": rate, "driven": driven, "webhooks_received": len(lag),
            "drained_after_s": round(drained_s, 2), "delivery_lag_ms": summary(lag),
            "ack_ms": summary(acks),
            "sim_cpu_pct": round(100 * cpu / (driven["seconds"] + drained_s), 1)}  # fmt: skip


def start_receiver(port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", RECEIVER_APP, "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    state = ROOT / ".work" / "bench" / "sim_capacity"
    state.mkdir(parents=True, exist_ok=True)
    receiver_port = args.base_port
    receiver = f"http://127.0.0.1:{receiver_port}"
    fleet = SimFleet.plan(state, args.base_port + 1, args.sims)
    procs = [start_receiver(receiver_port, state / "receiver.log")]
    try:
        webhook_url = f"{receiver}/webhooks/shopify"
        for name, cmd in fleet_commands(fleet, webhook_url, extra=["--validate", "off",
                                        "--webhook-retry-window", "60"]):  # fmt: skip
            with (state / f"{name}.log").open("ab") as out:
                fleet.procs[name] = subprocess.Popen(  # noqa: S603, ASYNC220 - before any load
                    cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=fleet.env()
                )
        procs.extend(fleet.procs.values())
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            await fleet.wait_healthy(http, [receiver])
            gids = store_gids()
            for shop, loc in gids.items():
                body = [{"sku": f"CAP-{i:05d}", "quantities": {loc: 1_000_000}}
                        for i in range(args.skus)]  # fmt: skip
                url = fleet.url_of(shop)
                (
                    await http.post(f"{url}/_sim/stores/{shop}/products", json=body)
                ).raise_for_status()
            rows = []
            for rate in args.rates:
                rows.append(await one_rate(http, fleet, receiver, rate, args))
                print(json.dumps(rows[-1]), flush=True)  # noqa: T201 - the figures
            return rows
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.sim_capacity", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", type=lambda t: [float(x) for x in t.split(",")], default=[200, 1000])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--skus", type=int, default=10_000)
    p.add_argument("--sims", type=int, choices=(1, 3), default=1, help="simulator processes")
    p.add_argument("--base-port", type=int, default=28190)
    args = p.parse_args(argv)
    asyncio.run(measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
