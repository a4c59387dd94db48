"""Rebuild: inventory truth for 100,000 SKUs restored from Kafka into an empty Redis, timed.

Loads levels records for every SKU (some with older or late stale copies, as before
compaction) and the commands that produced them into uniquely named topics, adds a tail of
commands the levels do not cover yet, flushes the Redis database (5 unless told otherwise,
never 0), runs ``inventory_adjuster.rebuild.rebuild`` and checks every SKU against what
the commands say it must be. Target: < 10 s for 100,000 SKUs.

    uv run python -m bench.rebuild --bootstrap 127.0.0.1:9092 --redis-url redis://127.0.0.1:6379

Exit status 1 only when the rebuilt state is wrong; the time is reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis.asyncio import Redis

from bench.report import (
    command_line,
    machine,
    machine_line,
    now_utc,
    table,
    update_section,
    with_db,
    write_results,
)
from inventory_adjuster.adapters.redis_store import RedisInventory, state_key
from inventory_adjuster.rebuild import Report, rebuild
from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    Levels,
    SkuLevels,
    encode,
)
from stocksync_common.kafka import env_security
from stocksync_common.transport import kafka_options

TITLE = "Rebuild of Redis truth from Kafka"
TARGET_S = 10.0
LOCATIONS = ("wh-1", "wh-2")


@dataclass
class Sku:
    """What a SKU's state must be after the rebuild."""

    version: int
    on_hand: dict[str, int]
    reserved: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    commands: str
    levels: str
    changed: str  # read by the rebuild for routed holds (none here): the bench's own, empty


async def create_topics(bootstrap: str, run_id: str, partitions: int) -> Topics:
    topics = Topics(
        f"bench.rebuild.{run_id}.commands",
        f"bench.rebuild.{run_id}.levels",
        f"bench.rebuild.{run_id}.changed",
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topics.commands, partitions, 1),
                NewTopic(topics.levels, partitions, 1, topic_configs={"cleanup.policy": "compact"}),
                NewTopic(topics.changed, partitions, 1),
            ]
        )
    finally:
        await admin.close()
    return topics


async def delete_topics(bootstrap: str, topics: Topics) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        await admin.delete_topics([topics.commands, topics.levels, topics.changed])
    finally:
        await admin.close()


def _levels(sku: str, version: int, on_hand: dict[str, int], partition: int, offset: int) -> bytes:
    locs = {loc: Levels(on_hand=n, available=n) for loc, n in on_hand.items()}
    payload = SkuLevels(
        sku=sku,
        version=version,
        available=sum(on_hand.values()),
        locations=locs,
        partition=partition,
        offset=offset,
    )
    return encode(InventoryLevelsUpdated(source="bench", payload=payload))


def _command(sku: str, command: str, loc: str, qty: int, key: str) -> bytes:
    cmd = InventoryCommand(
        command=command,
        idempotency_key=key,
        sku=sku,
        location=loc,
        quantity=qty,
    )
    return encode(InventoryCommandRequested(source="bench", payload=cmd))


async def load(
    producer: AIOKafkaProducer, topics: Topics, skus: int, tail: int, rng: random.Random
) -> dict[str, Sku]:
    """Produce the history; returns what every SKU must look like once it is replayed."""
    names = [f"BENCH-{i:07d}" for i in range(skus)]
    truth: dict[str, Sku] = {}
    futures = []
    for i, sku in enumerate(names):  # the last command of each SKU, covered by its levels
        locs = LOCATIONS if i % 5 == 0 else LOCATIONS[:1]
        truth[sku] = Sku(version=1 + i % 3, on_hand={loc: rng.randint(0, 1000) for loc in locs})
        value = _command(sku, "set_on_hand", locs[-1], truth[sku].on_hand[locs[-1]], f"{sku}:c")
        futures.append(await producer.send(topics.commands, value, key=sku.encode()))
    positions = [await f for f in futures]
    futures = []
    for i, (sku, md) in enumerate(zip(names, positions, strict=True)):
        s = truth[sku]
        wrong = {loc: n + 7 for loc, n in s.on_hand.items()}
        if i % 10 == 0:  # an older record compaction has not removed yet
            old = _levels(sku, s.version - 1, wrong, md.partition, md.offset - 1)
            futures.append(await producer.send(topics.levels, old, key=sku.encode()))
        value = _levels(sku, s.version, s.on_hand, md.partition, md.offset)
        futures.append(await producer.send(topics.levels, value, key=sku.encode()))
        if i % 100 == 1:  # a zombie's late write of older levels
            late = _levels(sku, s.version - 1, wrong, md.partition, md.offset - 1)
            futures.append(await producer.send(topics.levels, late, key=sku.encode()))
    for i in range(tail):  # commands the levels do not cover yet
        sku = names[rng.randrange(skus)]
        command, qty = ("reserve", 1) if i % 2 == 0 else ("adjust", rng.randint(-3, 9))
        _model(truth[sku], command, qty)
        value = _command(sku, command, LOCATIONS[0], qty, f"{sku}:t{i}")
        futures.append(await producer.send(topics.commands, value, key=sku.encode()))
    for f in futures:
        await f
    return truth


def _model(s: Sku, command: str, qty: int) -> None:
    loc = LOCATIONS[0]
    on_hand, reserved = s.on_hand[loc], s.reserved.get(loc, 0)
    if command == "reserve":
        if on_hand - reserved < qty:
            return  # rejected: nothing changes
        s.reserved[loc] = reserved + qty
    else:
        s.on_hand[loc] = on_hand + qty
    s.version += 1


LEVEL_FIELDS = (b"|on_hand", b"|reserved", b"|safety_stock")


async def verify(redis: Redis, truth: dict[str, Sku]) -> list[str]:
    """Every SKU's on_hand, reserved and version, read back in pipelines."""
    problems: list[str] = []
    items = list(truth.items())
    for i in range(0, len(items), 5000):
        pipe = redis.pipeline(transaction=False)
        for sku, _ in items[i : i + 5000]:
            pipe.hgetall(state_key(sku))
        for (sku, want), got in zip(items[i : i + 5000], await pipe.execute(), strict=True):
            # levels and version only: bookkeeping fields (count times, positions) are not truth
            have = {
                k.decode(): int(v)
                for k, v in got.items()
                if k == b"version" or k.endswith(LEVEL_FIELDS)
            }
            expected = {"version": want.version}
            for loc, n in want.on_hand.items():
                expected |= {
                    f"{loc}|on_hand": n,
                    f"{loc}|reserved": want.reserved.get(loc, 0),
                    f"{loc}|safety_stock": 0,
                }
            if have != expected and len(problems) < 10:
                problems.append(f"{sku}: {have} != {expected}")
            elif have != expected:
                problems.append("...")
                return problems
    return problems


@dataclass(frozen=True)
class Options:
    bootstrap: str
    redis_url: str
    skus: int
    tail: int
    partitions: int
    keep_topics: bool = False


async def run(opts: Options) -> dict[str, Any]:
    run_id, host = uuid.uuid4().hex[:8], machine()
    topics = await create_topics(opts.bootstrap, run_id, opts.partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=opts.bootstrap,
        **kafka_options(env_security()),
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=1024 * 1024,
    )
    redis = Redis.from_url(opts.redis_url)
    try:
        await producer.start()
        truth = await load(producer, topics, opts.skus, opts.tail, random.Random(42))
        await producer.stop()
        await redis.flushdb()
        group = f"bench-rebuild-{run_id}"
        store = RedisInventory(redis, group, idem_ttl_s=3600, ledger_max_len=1000)
        report = await rebuild(
            store,
            opts.bootstrap,
            levels_topic=topics.levels,
            commands_topic=topics.commands,
            changed_topic=topics.changed,
        )
        problems = await verify(redis, truth)
        problems.extend(_counts(report, opts))
        await redis.flushdb()
    finally:
        await producer.stop()
        await redis.aclose()
        if not opts.keep_topics:
            await delete_topics(opts.bootstrap, topics)
    return {
        "scenario": "rebuild",
        "skus": opts.skus,
        "tail": opts.tail,
        "partitions": opts.partitions,
        "target_s": TARGET_S,
        "report": asdict(report),
        "machine": host,
        "failures": problems,
    }


def _counts(report: Report, opts: Options) -> list[str]:
    out = []
    if report.skus != opts.skus:
        out.append(f"restored {report.skus} SKUs, expected {opts.skus}")
    if report.keys_remarked != opts.skus:
        out.append(f"re-marked {report.keys_remarked} keys, expected {opts.skus}")
    if report.commands_replayed != opts.tail or report.invalid or report.undecodable:
        out.append(f"replayed {report.commands_replayed} of {opts.tail} ({report.invalid} invalid)")
    return out


def render(data: dict[str, Any]) -> str:
    rep = data["report"]
    if data["skus"] < 100_000:
        met = "not judged below 100,000 SKUs"
    else:
        met = "met" if rep["seconds"] < TARGET_S else "missed"
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in rep["phases_s"].items())
    row = [
        f"{rep['skus']:,}",
        f"{rep['levels_records']:,}",
        f"{rep['commands_read']:,}",
        f"{rep['keys_remarked']:,}",
        f"{rep['commands_replayed']:,}",
        f"{rep['seconds']:.2f} s",
        f"< {TARGET_S:.0f} s per 100,000 SKUs ({met})",
    ]
    head = ["SKUs", "levels records", "commands read", "keys re-marked", "replayed", "time"]
    head.append("target")
    return "\n".join(
        [
            f"{data['skus']:,} SKUs over {data['partitions']} partitions: a levels record per SKU "
            "(plus older copies for 10% and a zombie's late stale copy for 1%, as before "
            f"compaction), the command behind each, and a tail of {data['tail']:,} commands "
            "the levels do not cover. Redis flushed, then `inventory_adjuster.rebuild.rebuild` "
            "timed from the first Kafka read to the stored offsets; every SKU is checked "
            "afterwards.",
            "",
            table(head, [row]),
            "",
            f"Phases: {phases}.",
            "",
            f"- Machine: {machine_line(data['machine'])}",
            f"- Date: {data['date']}",
            f"- Command: `{data['command']}`",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.rebuild", description=TITLE)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("STOCKSYNC_REDIS_URL", "redis://127.0.0.1:6379"),
        help="Redis to use; the database is replaced by --redis-db, which is flushed",
    )
    parser.add_argument("--redis-db", type=int, default=5)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--tail", type=int, default=2000, help="commands after the levels")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--keep-topics", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny load, no docs update (CI)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.redis_db == 0:
        parser.error("refusing to flush Redis database 0; pick another with --redis-db")
    skus, tail = (2000, 200) if args.smoke else (args.skus, args.tail)
    opts = Options(
        args.bootstrap,
        with_db(args.redis_url, args.redis_db),
        skus,
        tail,
        args.partitions,
        args.keep_topics,
    )
    data = asyncio.run(run(opts))
    at = now_utc()
    data.update(date=at.strftime("%Y-%m-%d %H:%M UTC"), command=command_line("bench.rebuild"))
    path = write_results("rebuild", data, at=at)
    if not (args.smoke or args.no_doc):
        update_section("rebuild", TITLE, render(data))
    print(render(data))
    print(f"\nresults: {path}")
    for problem in data["failures"]:
        print(f"FAIL: {problem}")
    return 1 if data["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
