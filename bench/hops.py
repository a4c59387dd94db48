"""Where a sale's sync latency goes, hop by hop, from Kafka record timestamps.

Each hop's end is the ``CreateTime`` of the record that hop produced (one machine, one
clock): the webhook on ``webhooks.shopify.v1`` (simulator delivery, receiver, publish),
the command on ``inventory.commands.v1`` (order-consumer), the change on
``inventory.changed.v1`` (inventory-adjuster), then the simulator's time of the accepted
``inventorySetQuantities`` at each other store (shopify-sync). Only cold SKUs are followed:
each is sold once, so the first record naming it after the sale is the one the sale caused.
The naive monolith has no hops (one synchronous request), so it has no breakdown.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.live import summary
from bench.load import epoch_s
from stocksync_common.kafka import env_security, stop_consumer
from stocksync_common.transport import kafka_options

TOPICS = ("webhooks.shopify.v1", "inventory.commands.v1", "inventory.changed.v1")
HOPS = (
    ("webhook", "sale -> webhooks.shopify.v1 (simulator delivery, receiver, publish)"),
    ("command", "-> inventory.commands.v1 (order-consumer)"),
    ("change", "-> inventory.changed.v1 (inventory-adjuster)"),
    ("write", "-> accepted inventorySetQuantities at each other store (shopify-sync)"),
    ("total", "sale -> other store written"),
)


SLOWEST = 3  # the slowest writes listed with their split


class Stamp(NamedTuple):
    topic: str
    at_s: float  # the record's CreateTime, seconds
    value: bytes


async def read_stamps(bootstrap: str, since_s: float, timeout_s: float = 60.0) -> list[Stamp]:
    """Every record of the three topics produced from ``since_s`` on, up to their ends now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_options(env_security()), enable_auto_commit=False
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - fresh, as live.py
        tps = [TopicPartition(t, p) for t in TOPICS for p in cluster.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.offsets_for_times(dict.fromkeys(tps, int(since_s * 1000)))
        todo = {tp: ends[tp] for tp in tps if starts.get(tp) and starts[tp].offset < ends[tp]}
        for tp in todo:
            consumer.seek(tp, starts[tp].offset)
        out: list[Stamp] = []
        async with asyncio.timeout(timeout_s):
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500, max_records=5000)
                for tp, records in batch.items():
                    for r in records:
                        if r.offset < todo.get(tp, 0):
                            out.append(Stamp(tp.topic, r.timestamp / 1000, r.value or b""))
                    if records and records[-1].offset + 1 >= todo.get(tp, 0):
                        todo.pop(tp, None)
        return out
    finally:
        await stop_consumer(consumer)


def first_after(stamps: Iterable[Stamp], after_s: float) -> float | None:
    times = [s.at_s for s in stamps if s.at_s >= after_s - 0.001]  # CreateTime: ms precision
    return min(times) if times else None


def breakdown(
    book: dict[str, Any], writes_seen: list[dict[str, Any]], stamps: list[Stamp], cold: set[str]
) -> dict[str, Any]:
    """Per hop p50/p99/max in ms over the cold sales followed end to end, and how many
    sales could not be followed (a record or a write not found)."""
    sold = [s for s in book["sales"] if s["sku"] in cold]
    wanted = {f'"{s["sku"]}"'.encode(): s["sku"] for s in sold}
    by_sku: dict[tuple[str, str], list[Stamp]] = defaultdict(list)
    for stamp in stamps:
        for needle, sku in wanted.items():
            if needle in stamp.value:
                by_sku[(stamp.topic, sku)].append(stamp)
    written: dict[tuple[str, str], list[float]] = defaultdict(list)
    for w in writes_seen:
        if w["ok"]:
            for sku in w["skus"]:
                written[(w["shop"], sku)].append(epoch_s(w["at"]))
    shops = {w["shop"] for w in writes_seen} | {s["shop"] for s in sold}
    hops: dict[str, list[float]] = defaultdict(list)
    chains: list[dict[str, Any]] = []  # each followed sale's split, for its slowest writes
    unfollowed = 0
    for nth, sale in enumerate(sold):
        at = sale["sold_at"]
        chain = [at]
        for topic in TOPICS:
            nxt = first_after(by_sku[(topic, sale["sku"])], chain[-1])
            if nxt is None:
                break
            chain.append(nxt)
        if len(chain) < len(TOPICS) + 1:
            unfollowed += 1
            continue
        split = {
            name: round(max(0.0, chain[i + 1] - chain[i]) * 1000, 1)
            for i, name in enumerate(("webhook", "command", "change"))
        }
        for name, ms in split.items():
            hops[name].append(ms)
        for shop in shops - {sale["shop"]}:
            done = [t for t in written[(shop, sale["sku"])] if t >= chain[-1] - 0.001]
            if done:
                write, total = (max(0.0, min(done) - t) * 1000 for t in (chain[-1], at))
                hops["write"].append(write)
                hops["total"].append(total)
                chains.append({"nth": nth, "shop": shop, "total": round(total, 1),
                               **split, "write": round(write, 1)})  # fmt: skip
    slowest = sorted(chains, key=lambda c: -c["total"])[:SLOWEST]
    return {"hops": {name: summary(hops[name]) for name, _ in HOPS}, "unfollowed": unfollowed,
            "slowest": slowest}  # fmt: skip


def lines(result: dict[str, Any]) -> list[str]:
    """The breakdown as printable lines."""
    out = [f"{'hop':<72} {'n':>5} {'p50':>9} {'p99':>9} {'max':>9}"]
    for name, label in HOPS:
        h = result["hops"][name]
        out.append(f"{label:<72} {h['n']:>5} {h['p50']:>9} {h['p99']:>9} {h['max']:>9}")
    out.append(f"cold sales not followed end to end: {result['unfollowed']}")
    for c in result.get("slowest", []):
        split = " ".join(f"{name} {c[name]}" for name, _ in HOPS[:4])
        out.append(f"slow: sale {c['nth']} to {c['shop']}: {c['total']} ms = {split}")
    return out
