"""Load for the live benches: storefront orders, and inventory commands straight onto a topic.

Orders go through the simulator's storefront (``POST /_sim/storefront/sell``): each store
refuses a sale when its own count is short, otherwise sends a signed ``orders/create``. The
same seeded list of sales is replayed against StockSync and against the naive baseline.

Inventory commands (``bench.knee``) come from :class:`CommandGenerator`: producer processes
of their own, so the generator is not what limits the rate measured (see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from bench.live import summary
from bench.sim_fleet import Sims
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.kafka import env_security
from stocksync_common.transport import kafka_options

CHUNK = 2000


@dataclass(frozen=True)
class Catalog:
    hot: list[str]
    cold: list[str]
    hot_stock: int
    cold_stock: int

    def stock(self) -> dict[str, int]:
        return dict.fromkeys(self.hot, self.hot_stock) | dict.fromkeys(self.cold, self.cold_stock)


def catalog(prefix: str, skus: int, hot: int, hot_stock: int, cold_stock: int) -> Catalog:
    return Catalog(
        hot=[f"{prefix}-H{i:05d}" for i in range(hot)],
        cold=[f"{prefix}-C{i:05d}" for i in range(skus - hot)],
        hot_stock=hot_stock,
        cold_stock=cold_stock,
    )


DEMAND = (0.70, 0.28, 0.02)  # parent, child-eu, child-us: uneven demand across the stores


def parse_demand(text: str) -> tuple[float, ...]:
    """``70,28,2`` -> per-store weights that sum to 1 (in the stores file's order)."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise ValueError(f"demand weights must be numbers: {text!r}") from None
    if not parts or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise ValueError(f"demand weights must be >= 0 with a positive sum: {text!r}")
    return tuple(round(p / sum(parts), 6) for p in parts)


def plan_sales(
    cat: Catalog,
    shops: list[str],
    n: int,
    hot_share: float,
    seed: int,
    weights: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """``n`` one-unit sales, seeded: a ``hot_share`` on hot SKUs, the rest each on a cold SKU
    of its own (so a cold sale's sync can be matched to the writes it caused).

    Each sale's store is drawn with ``weights`` (one per shop; uniform when ``None``): uneven
    demand across the stores. Every hot SKU is asked for the same number of units (give or
    take one), in a shuffled order: how much of the stock sells then depends on the sync, not
    on which SKUs the dice favoured."""
    if weights is not None and len(weights) != len(shops):
        raise ValueError(f"{len(weights)} demand weights for {len(shops)} stores")
    rng = random.Random(seed)  # noqa: S311 - a reproducible load, not security
    cold = iter(cat.cold)
    out: list[dict[str, Any]] = []
    hot_slots: list[int] = []
    for i in range(n):
        shop = rng.choices(shops, weights)[0]
        sku = next(cold, None) if rng.random() >= hot_share else None
        if sku is None:
            hot_slots.append(i)
        out.append({"shop": shop, "sku": sku, "quantity": 1})
    if hot_slots and not cat.hot:
        raise ValueError("hot sales planned for a catalog without hot SKUs")
    hot = [cat.hot[k % len(cat.hot)] for k in range(len(hot_slots))]
    rng.shuffle(hot)
    for i, sku in zip(hot_slots, hot, strict=True):
        out[i]["sku"] = sku
    return out


def demand(sales: list[dict[str, Any]], cat: Catalog) -> dict[str, Any]:
    """What the planned sales ask of the hot stock, and how they spread over the stores."""
    asked: Counter[str] = Counter()
    by_shop: Counter[str] = Counter()
    for sale in sales:
        by_shop[sale["shop"]] += sale["quantity"]
        if sale["sku"] in cat.hot:
            asked[sale["sku"]] += sale["quantity"]
    stock = cat.hot_stock * len(cat.hot)
    total = sum(by_shop.values())
    fewest = min((asked[s] for s in cat.hot), default=0)
    return {
        "hot_units_asked": sum(asked.values()),
        "hot_units_in_stock": stock,
        "ratio": round(sum(asked.values()) / stock, 2) if stock else 0.0,
        "min_ratio_per_sku": round(fewest / cat.hot_stock, 2) if cat.hot_stock else 0.0,
        "share_by_store": {s: round(n / total, 3) for s, n in sorted(by_shop.items())},
    }


async def seed_products(
    http: httpx.AsyncClient, sim: str, gids: dict[str, str], level: Callable[[str, str], int],
    skus: list[str],
) -> None:  # fmt: skip
    """Create every SKU in every store at ``level(shop, sku)``."""
    for shop, location in gids.items():
        url = Sims.of(sim).url_of(shop)
        for start in range(0, len(skus), CHUNK):
            body = [
                {"sku": s, "quantities": {location: level(shop, s)}}
                for s in skus[start : start + CHUNK]
            ]
            r = await http.post(f"{url}/_sim/stores/{shop}/products", json=body)
            r.raise_for_status()


async def inventories(
    http: httpx.AsyncClient, sim: str, gids: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Shop -> SKU -> available at the store's location."""
    out: dict[str, dict[str, int]] = {}
    for shop, location in gids.items():
        url = Sims.of(sim).url_of(shop)
        inv = (await http.get(f"{url}/_sim/stores/{shop}/inventory")).json()
        out[shop] = {sku: levels.get(location, 0) for sku, levels in inv.items()}
    return out


async def clear(http: httpx.AsyncClient, sim: str) -> None:
    for url in Sims.of(sim).urls():
        (await http.delete(f"{url}/_sim/requests")).raise_for_status()
        (await http.delete(f"{url}/_sim/storefront/sales")).raise_for_status()


@dataclass
class Driven:
    offered: int = 0
    sold: int = 0
    refused: int = 0
    seconds: float = 0.0
    errors: int = 0


async def drive(
    http: httpx.AsyncClient,
    sim: str,
    sales: list[dict[str, Any]],
    rate: float,
    tick_s: float = 0.05,
) -> Driven:
    """Send ``sales`` at ``rate`` per second, in small batches every ``tick_s`` (one call per
    simulator process per batch, the processes at once)."""
    out = Driven()
    sims = Sims.of(sim)
    start = time.monotonic()
    while out.offered < len(sales):
        due = min(len(sales), int(rate * (time.monotonic() - start)) + 1) - out.offered
        if due > 0:
            batch = sales[out.offered : out.offered + due]
            out.offered += len(batch)
            parts = sims.by_process(batch)
            await asyncio.gather(*(sell(http, url, part, out) for url, part in parts))
        await asyncio.sleep(tick_s)  # pacing of the generator, nothing waits on it
    out.seconds = time.monotonic() - start
    return out


async def sell(http: httpx.AsyncClient, url: str, batch: list[dict[str, Any]], out: Driven) -> None:
    """One storefront call; its sold, refused or failed sales counted in ``out``."""
    try:
        r = await http.post(f"{url}/_sim/storefront/sell", json={"sales": batch})
        r.raise_for_status()
        out.sold += r.json()["sold"]
        out.refused += r.json()["refused"]
    except httpx.HTTPError:
        out.errors += len(batch)


async def sales_book(http: httpx.AsyncClient, sim: str) -> dict[str, Any]:
    """The storefront's sales book, merged over every simulator process."""
    sales: list[dict[str, Any]] = []
    refused: Counter[str] = Counter()
    refusals: list[dict[str, Any]] = []
    urls = Sims.of(sim).urls()
    for url in urls:
        r = await http.get(f"{url}/_sim/storefront/sales", timeout=180)
        r.raise_for_status()
        book = r.json()
        sales.extend(book["sales"])
        refused.update(book["refused"])
        refusals.extend(book["refusals"])
    if len(urls) > 1:
        # A process knows only its own store: what the others showed is not known there.
        refusals = [r | {"elsewhere": None} for r in refusals]
    return {
        "sales": sorted(sales, key=lambda s: s["sold_at"]),
        "refused": dict(refused),
        "refusals": sorted(refusals, key=lambda r: r["at"]),
    }


async def writes(http: httpx.AsyncClient, sim: str) -> list[dict[str, Any]]:
    """Every ``inventorySetQuantities`` answered, merged over every simulator process."""
    out: list[dict[str, Any]] = []
    for url in Sims.of(sim).urls():
        r = await http.get(f"{url}/_sim/storefront/writes", timeout=180)
        r.raise_for_status()
        out.extend(r.json())
    return sorted(out, key=lambda w: epoch_s(w["at"]))


async def pending(http: httpx.AsyncClient, sim: str) -> int:
    """Webhooks of storefront sales still being delivered, over every simulator process."""
    total = 0
    for url in Sims.of(sim).urls():
        r = await http.get(f"{url}/_sim/storefront/pending")
        r.raise_for_status()
        total += int(r.json()["pending"])
    return total


async def wait_delivered(
    http: httpx.AsyncClient, sim: str, timeout_s: float, every_s: float = 1.0
) -> dict[str, Any]:
    """The sales book once no webhook is pending any more (or at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if await pending(http, sim) == 0:
                break
        except httpx.HTTPError:
            pass  # a busy simulator answers late; the deadline bounds the wait
        await asyncio.sleep(every_s)
    return await sales_book(http, sim)


def epoch_s(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


SLOWEST = 5  # slowest samples a latency summary lists


def sync_pairs(
    book: dict[str, Any], writes_seen: list[dict[str, Any]], cold: set[str]
) -> tuple[dict[tuple[str, str], float], Counter[str], list[tuple[float, int, str, str]]]:
    """Per (store, cold SKU) sold elsewhere: ms from the sale to the first accepted write of
    that SKU there; the sales never written, per store; every sample with its place in the
    sale order (ms, nth cold sale, store, sku).

    Cold SKUs are sold once each, so the first write after the sale is the one it caused,
    and the same seeded orders give both sides of a run the same (store, SKU) pairs.
    """
    first: dict[tuple[str, str], list[float]] = defaultdict(list)
    for w in writes_seen:
        if w["ok"]:
            for sku in w["skus"]:
                if sku in cold:
                    first[(w["shop"], sku)].append(epoch_s(w["at"]))
    shops = {w["shop"] for w in writes_seen} | {s["shop"] for s in book["sales"]}
    pairs: dict[tuple[str, str], float] = {}
    missing: Counter[str] = Counter()
    samples: list[tuple[float, int, str, str]] = []
    sales = sorted((s for s in book["sales"] if s["sku"] in cold), key=lambda s: s["sold_at"])
    for nth, sale in enumerate(sales):
        for shop in sorted(shops - {sale["shop"]}):
            # the write's time has millisecond precision; the sale's is finer
            after = [t for t in first[(shop, sale["sku"])] if t >= sale["sold_at"] - 0.001]
            if after:
                ms = max(0.0, min(after) - sale["sold_at"]) * 1000
                pairs[(shop, sale["sku"])] = ms
                samples.append((ms, nth, shop, sale["sku"]))
            else:
                missing[shop] += 1
    return pairs, missing, samples


def sync_latencies(
    book: dict[str, Any], writes_seen: list[dict[str, Any]], cold: set[str]
) -> dict[str, Any]:
    """Per store: sale of a cold SKU elsewhere -> first accepted write of that SKU there
    (:func:`sync_pairs`)."""
    _pairs, missing, samples = sync_pairs(book, writes_seen, cold)
    return latency_summary(missing, samples)


def latency_summary(
    missing: Counter[str], samples: list[tuple[float, int, str, str]]
) -> dict[str, Any]:
    """What :func:`sync_latencies` reports, from :func:`sync_pairs`' misses and samples."""
    per_store: dict[str, list[float]] = defaultdict(list)
    for ms, _nth, shop, _sku in samples:
        per_store[shop].append(ms)
    every = [ms for ms, _nth, _shop, _sku in samples]
    return {
        "all": summary(every),
        "per_store": {shop: summary(v) for shop, v in sorted(per_store.items())},
        "missing": dict(missing),
        # the slowest few, with their place in the sale order: tells a warm-up (first
        # sales) from a periodic stall (anywhere) without re-running the bench
        "slowest": [
            {"ms": round(ms, 1), "nth": nth, "store": shop, "sku": sku}
            for ms, nth, shop, sku in sorted(samples, reverse=True)[:SLOWEST]
        ],
    }


def matched(
    ours: dict[tuple[str, str], float], theirs: dict[tuple[str, str], float]
) -> dict[str, Any]:
    """Both sides' sync latency over the updates both delivered (the same (store, SKU)
    pairs): a side that never delivers its slow updates (the naive sync has no retry path
    once a store throttles it) otherwise reports a median over its fast ones only."""
    both = sorted(set(ours) & set(theirs))
    stores = sorted({shop for shop, _sku in both})
    return {
        "n": len(both),
        "of": {"stocksync": len(ours), "naive": len(theirs)},
        "stocksync": summary([ours[k] for k in both]),
        "naive": summary([theirs[k] for k in both]),
        "per_store": {
            shop: {
                "stocksync": summary([ours[k] for k in both if k[0] == shop]),
                "naive": summary([theirs[k] for k in both if k[0] == shop]),
            }
            for shop in stores
        },
    }


def oversell(book: dict[str, Any], cat: Catalog) -> dict[str, int]:
    """Units sold beyond the shared stock, summed over hot SKUs."""
    sold: Counter[str] = Counter()
    for sale in book["sales"]:
        sold[sale["sku"]] += sale["quantity"]
    hot_sold = {s: sold[s] for s in cat.hot}
    over = sum(max(0, n - cat.hot_stock) for n in hot_sold.values())
    return {
        "units_beyond_stock": over,
        "skus_oversold": sum(1 for n in hot_sold.values() if n > cat.hot_stock),
        "hot_units_sold": sum(hot_sold.values()),
        "hot_units_in_stock": cat.hot_stock * len(cat.hot),
    }


def sell_through(book: dict[str, Any], cat: Catalog) -> dict[str, Any]:
    """Hot units sold within stock over hot units in stock (units beyond stock never count)."""
    sold: Counter[str] = Counter()
    for sale in book["sales"]:
        sold[sale["sku"]] += sale["quantity"]
    within = sum(min(sold[s], cat.hot_stock) for s in cat.hot)
    stock = cat.hot_stock * len(cat.hot)
    return {
        "hot_units_sold_within_stock": within,
        "hot_units_in_stock": stock,
        "sell_through": round(within / stock, 4) if stock else 0.0,
    }


def refusals(book: dict[str, Any], cat: Catalog) -> dict[str, int | None]:
    """Sales the stores refused, and those refused while stock existed elsewhere: other
    stores still showed units (the simulator's record at that moment; ``None`` when one
    process per store served them, none of which sees the others), or units of that hot SKU
    were still unsold overall (from the sales book: truth had stock to sell)."""
    refused = book.get("refusals", [])
    sold_at: dict[str, list[float]] = defaultdict(list)
    for sale in book["sales"]:
        sold_at[sale["sku"]].extend([sale["sold_at"]] * sale["quantity"])
    hot = set(cat.hot)

    def unsold_then(r: dict[str, Any]) -> bool:
        return r["sku"] in hot and sum(t <= r["at"] for t in sold_at[r["sku"]]) < cat.hot_stock

    known = all(r["elsewhere"] is not None for r in refused)
    return {
        "refused": len(refused),
        "while_stock_elsewhere": sum(1 for r in refused if r["elsewhere"] > 0) if known else None,
        "units_shown_elsewhere": sum(r["elsewhere"] for r in refused) if known else None,
        "while_units_unsold": sum(1 for r in refused if unsold_then(r)),
    }


def acks(book: dict[str, Any]) -> dict[str, Any]:
    """Ack latency of each webhook's accepted attempt, and deliveries that needed retries."""
    delivered = [s for s in book["sales"] if s["ack_ms"] is not None]
    times = [s["sold_at"] for s in book["sales"]]
    span = max(times) - min(times) if times else 0.0
    return {
        "latency_ms": summary([s["ack_ms"] for s in delivered]),
        "delivered": len(delivered),
        "failed": sum(1 for s in book["sales"] if s["status"] == "failed"),
        "retried": sum(1 for s in book["sales"] if s["attempts"] > 1),
        "accepted_per_s": round(len(delivered) / span, 1) if span else 0.0,
    }


# --- Inventory commands straight onto a topic (bench.knee) ---------------------------------

# Pacing: how often a producer process tops its count up to the rate. Each tick costs about
# a millisecond of CPU whatever it carries (a produce request over every partition, its
# answer): at 5 ms the two processes took 0.26 of a core at 1,000 and at 3,000 records/s
# alike, CPU the system under test did not get; at 20 ms, 0.12 (docs/benchmarks.md). A step
# then arrives in bursts of a fiftieth of its rate each 20 ms; from 1,000/s up the adjuster
# already took about as many per fetch (22-27 at 1,000/s, docs/profiling.md).
TICK_S = 0.02
MARKERS = re.compile(rb"@(KEY|SKU|ID)@")


def command_template() -> list[bytes]:
    """One encoded ``adjust`` command (+1 unit at wh-1) split at its placeholders: literal
    parts at even indexes, placeholder names (``KEY``, ``SKU``, ``ID``) at odd ones. Building
    a pydantic model per message would make the generator, not the system, the limit."""
    cmd = InventoryCommand(command="adjust", idempotency_key="knee:@KEY@", sku="@SKU@",
                           location="wh-1", quantity=1, reason="bench")  # fmt: skip
    event = InventoryCommandRequested(id="@ID@", correlation_id="@ID@", payload=cmd,
                                      source="bench.knee")  # fmt: skip
    return MARKERS.split(encode(event))


def fill(parts: list[bytes], key: bytes, sku: bytes) -> bytes:
    """The command of ``parts`` with its placeholders filled (its id is its key)."""
    values = {b"KEY": key, b"SKU": sku, b"ID": key}
    return b"".join(p if i % 2 == 0 else values[p] for i, p in enumerate(parts))


def split_rate(rate: int, weights: Sequence[int]) -> list[int]:
    """``rate`` split in proportion to ``weights`` (whole records per second, summing to
    ``rate``; the remainders go to the largest fractions, ties to the first)."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    exact = [rate * w / total for w in weights]
    out = [int(x) for x in exact]
    by_fraction = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in by_fraction[: rate - sum(out)]:
        out[i] += 1
    return out


def due(rate: float, elapsed_s: float, sent: int) -> int:
    """Records to send now to be at ``rate`` after ``elapsed_s`` (none when ahead)."""
    return max(0, int(rate * elapsed_s) - sent)


def shares(skus: Sequence[str], processes: int) -> list[list[str]]:
    """Each producer process's SKUs: every ``processes``-th one, so a SKU has one producer
    (its commands stay in order) and the rates split with the SKUs."""
    return [list(skus[i::processes]) for i in range(processes)]


@dataclass(frozen=True)
class Produced:
    """What the producer processes sent in a step, acknowledged, over how long (from the
    step's start to the last acknowledgement)."""

    sent: int
    seconds: float

    @property
    def per_s(self) -> float:
        return round(self.sent / self.seconds, 1) if self.seconds > 0 else 0.0


class CommandGenerator:
    """``adjust`` commands onto a topic at a rate, from ``processes`` producer processes
    (spawned once, reused for every step): one Python process tops out at a few tens of
    thousands of records a second, and sharing the event loop with the bench would cap it
    lower. Each process owns a share of the SKUs, knows each SKU's partition (the default
    partitioner's, computed once), fills a command template per record (no model per
    message) and hands the producer one batch per partition per tick (``send_batch``), so
    a record costs little more than its bytes. Acks are ``all``, as the services produce.

    Use it as a context manager; :meth:`produce` blocks until the step's records are
    acknowledged (call it through ``asyncio.to_thread`` from a running loop)."""

    def __init__(self, bootstrap: str, processes: int = 2) -> None:
        self.bootstrap = bootstrap
        self.processes = processes
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []

    def __enter__(self) -> CommandGenerator:
        ctx = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
        for _ in range(self.processes):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(there, self.bootstrap), daemon=True)
            proc.start()
            self._conns.append(here)
            self._procs.append(proc)
        for conn in self._conns:
            _expect(conn, "started")
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for proc in self._procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()  # our own child, by its handle
                proc.join(5)

    def produce(self, topic: str, skus: Sequence[str], rate: int, seconds: float) -> Produced:
        """``rate`` commands per second onto ``topic`` for ``seconds``, over ``skus`` (each
        command a new idempotency key)."""
        run = uuid.uuid4().hex[:12]
        parts = shares(skus, self.processes)
        rates = split_rate(rate, [len(p) for p in parts])
        for i, (conn, own) in enumerate(zip(self._conns, parts, strict=True)):
            conn.send(("prepare", topic, own, f"{run}-{i}"))
        for conn in self._conns:
            _expect(conn, "prepared")
        start_at = time.time() + 0.05  # every process starts the step at the same moment
        for conn, r in zip(self._conns, rates, strict=True):
            conn.send(("go", r, seconds, start_at))
        results = [_expect(conn, "produced") for conn in self._conns]
        sent = sum(int(r[0]) for r in results)
        return Produced(sent, max(float(r[1]) for r in results) - start_at)


def _expect(conn: Connection, what: str) -> tuple[Any, ...]:
    reply = conn.recv()
    if reply[0] == "error":
        raise RuntimeError(f"a command producer process failed: {reply[1]}")
    if reply[0] != what:
        raise RuntimeError(f"a command producer process answered {reply[0]!r}, not {what!r}")
    return tuple(reply[1:])


def _serve(conn: Connection, bootstrap: str) -> None:
    """A producer process: steps from ``conn`` until ``stop``."""
    asyncio.run(_serve_async(conn, bootstrap))


async def _serve_async(conn: Connection, bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024, request_timeout_ms=30000,
                                **kafka_options(env_security()))  # fmt: skip
    await producer.start()
    conn.send(("started",))
    template = command_template()
    plan: tuple[str, list[tuple[int, bytes]], str] | None = None
    try:
        while True:
            msg = await asyncio.to_thread(conn.recv)
            try:
                if msg[0] == "stop":
                    return
                if msg[0] == "prepare":
                    _, topic, skus, run = msg
                    plan = (topic, await _partitioned(producer, topic, skus), run)
                    conn.send(("prepared",))
                elif msg[0] == "go" and plan is not None:
                    _, rate, seconds, start_at = msg
                    await asyncio.sleep(max(0.0, start_at - time.time()))
                    sent = await _paced(producer, template, *plan, rate, seconds)
                    conn.send(("produced", sent, time.time()))
            except Exception as exc:  # noqa: BLE001 - reported to the bench, which raises it
                conn.send(("error", repr(exc)))
    finally:
        await producer.stop()


async def _partitioned(
    producer: AIOKafkaProducer, topic: str, skus: list[str]
) -> list[tuple[int, bytes]]:
    """Each SKU with its partition, as the default partitioner picks it (hashed once)."""
    every = sorted(await producer.partitions_for(topic))
    pick = DefaultPartitioner()
    return [(int(pick(s.encode(), every, every)), s.encode()) for s in skus]


async def _paced(
    producer: AIOKafkaProducer,
    template: list[bytes],
    topic: str,
    skus: list[tuple[int, bytes]],
    run: str,
    rate: int,
    seconds: float,
) -> int:
    """Open loop at ``rate``/s for ``seconds``: every tick, what is due goes out as one
    batch per partition; returns how many were sent once all are acknowledged."""
    sent, acks, start = 0, [], time.monotonic()
    total = int(rate * seconds)
    while sent < total and skus:
        elapsed = time.monotonic() - start
        n = min(due(rate, elapsed, sent), total - sent)
        if n:
            acks.extend(await _send_chunk(producer, template, topic, skus, run, sent, n))
            sent += n
        if elapsed < seconds:
            await asyncio.sleep(TICK_S)  # pacing of the generator, nothing waits on it
    await asyncio.gather(*acks)
    return sent


async def _send_chunk(
    producer: AIOKafkaProducer,
    template: list[bytes],
    topic: str,
    skus: list[tuple[int, bytes]],
    run: str,
    first: int,
    n: int,
) -> list[asyncio.Future[Any]]:
    batches: dict[int, Any] = {}
    acks: list[asyncio.Future[Any]] = []
    for i in range(first, first + n):
        partition, sku = skus[i % len(skus)]
        key = f"{run}-{i}".encode()
        value = fill(template, key, sku)
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = producer.create_batch()
        if batch.append(key=sku, value=value, timestamp=None) is None:  # full: send it
            acks.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[partition] = producer.create_batch()
            batch.append(key=sku, value=value, timestamp=None)
    for partition, batch in batches.items():
        acks.append(await producer.send_batch(batch, topic, partition=partition))
    return acks
