"""CPU per command through ``CommandHandler.handle_batch`` against a real Redis and Kafka.

    uv run --frozen python services/inventory-adjuster/scripts/handler_cpu.py \
        [--redis redis://127.0.0.1:16379/0] [--kafka 127.0.0.1:19092] \
        [--commands 5000] [--skus 1000] [--batch 100] [--command reserve|adjust] \
        [--shops 0] [--lua-dir DIR]

Flash-sale shaped: SKUs stocked first (one ``set_on_hand`` each, not measured), then
reservations of one unit, each its own order with its own trace context (a ``traceparent``
header, as order-consumer sends them), fed as one partition's batches the way the consumer
loop hands them over. ``--command adjust``: plain adjusts of one unit instead (no order);
``--shops N``: N shops listed and the default allocation on, as the service runs with shops
configured; ``--lua-dir``: the apply script composed from that directory's alloc.lua,
take_order.lua and apply.lua (another version of them, to compare side by side). The
handler publishes to the real broker with the service's producer settings (idempotent,
acks=all, linger 0) and waits for every acknowledgement, as in the service. Reports the
process CPU (this process, the producer's sender included; Kafka's own CPU is not counted)
and wall time per command, and on one Redis its own CPU per command (INFO's used_cpu_sys +
used_cpu_user: the whole server's, so nothing else should use it meanwhile). Its Redis keys
live under fresh SKUs and are deleted at the end; its records go to the broker's
``inventory.changed.v1`` and ``inventory.levels.v1`` under SKUs no test looks for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from inventory_adjuster.adapters import redis_store
from inventory_adjuster.adapters.kits import KitStore
from inventory_adjuster.adapters.redis_store import DefaultAllocation, RedisInventory
from inventory_adjuster.handlers import CommandHandler
from stocksync_common.consumer import Incoming
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, OrderLineRef
from stocksync_common.kafka import env_security, make_producer
from stocksync_common.redis_client import cluster_url, connect
from stocksync_common.topics import INVENTORY_COMMANDS
from stocksync_common.tracing import setup_tracing


@dataclass
class _Record:
    """The fields of a consumed record the handler reads."""

    key: bytes | None
    offset: int
    topic: str = INVENTORY_COMMANDS
    partition: int = 0
    timestamp: int = 0
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


def command(sku: str, kind: str, qty: int, key: str, order: OrderLineRef | None) -> Incoming:
    event = InventoryCommandRequested(
        source="cpu",
        shop=order.shop if order else None,
        payload=InventoryCommand(
            command=kind,
            idempotency_key=key,
            sku=sku,
            location="wh-1",
            quantity=qty,
            order=order,
        ),
    )
    traceparent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
    return Incoming(
        _Record(sku.encode(), 0, headers=[("traceparent", traceparent.encode())]),
        event,
    )


def numbered(items: list[Incoming], start: int) -> list[Incoming]:
    for i, it in enumerate(items):
        it.record.offset = start + i
    return items


async def redis_cpu(redis: Redis, url: str) -> tuple[float, int, int] | None:
    """The Redis server's own CPU so far (s), and its EVALSHA calls' time (µs) and count
    (INFO commandstats: the script's run, its inner calls included); None on a cluster."""
    if cluster_url(url) is not None:
        return None
    info = await redis.info("cpu")
    stats = (await redis.info("commandstats")).get("cmdstat_evalsha", {})
    return (
        float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
        int(stats.get("usec", 0)),
        int(stats.get("calls", 0)),
    )


async def main(  # noqa: PLR0913 - the command line's options
    url: str, kafka: str, n: int, skus: int, batch: int, kind: str, shops: int
) -> None:
    setup_tracing("inventory-adjuster", "none")  # as the service runs: real spans, none exported
    run = uuid.uuid4().hex[:8]
    group = f"adjuster-cpu-{run}"
    redis = connect(url)  # as the service opens it (its connection class and timeouts)
    producer = make_producer(kafka, group, linger_ms=0, security=env_security())
    await producer.start()
    store = RedisInventory(
        redis,
        group,
        idem_ttl_s=600,
        ledger_max_len=100,
        shops=[f"shop-{i}.myshopify.com" for i in range(shops)],
        allocation=DefaultAllocation() if shops else None,
    )
    kits = KitStore(redis, group, idem_ttl_s=600, ledger_max_len=100)
    handler = CommandHandler(store, producer, kits)
    tp = TopicPartition(INVENTORY_COMMANDS, 0)
    names = [f"CPU-{run}-{s}" for s in range(skus)]
    stock = [command(s, "set_on_hand", 10_000, f"{s}:stock", None) for s in names]
    offset = 0
    for i in range(0, len(stock), batch):  # stock and warm up: scripts loaded, metadata known
        await handler.handle_batch(tp, numbered(stock[i : i + batch], offset))
        offset += batch
    orders = [
        command(
            names[i % skus],
            kind,
            1,
            f"{run}:order:{i}:{kind}",
            OrderLineRef(shop="north.myshopify.com", order_id=f"{run}-{i}", line_id="1")
            if kind == "reserve"
            else None,
        )
        for i in range(n)
    ]
    numbered(orders, offset)
    server = await redis_cpu(redis, url)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, n, batch):
        await handler.handle_batch(tp, orders[i : i + batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = await redis_cpu(redis, url)
    redis_part = ""
    if server is not None and after is not None:
        scripts = max(1, after[2] - server[2])
        redis_part = (
            f", Redis {(after[0] - server[0]) * 1e6 / n:.1f} us/command"
            f" (EVALSHA {(after[1] - server[1]) / scripts:.1f} us/call)"
        )
    print(  # noqa: T201
        f"{n} {kind} commands, {skus} SKUs, {shops} shops, batches of {batch}: "
        f"CPU {cpu * 1e6 / n:.0f} us/command, wall {wall * 1e6 / n:.0f} us/command "
        f"({n / wall:.0f} commands/s){redis_part}"
    )
    await producer.stop()
    keys = [k async for k in redis.scan_iter(f"*CPU-{run}-*", count=1000)]
    keys += [k async for k in redis.scan_iter(f"*{group}*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])
    await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--redis", default="redis://127.0.0.1:16379/0")
    p.add_argument("--kafka", default="127.0.0.1:19092")
    p.add_argument("--commands", type=int, default=5000)
    p.add_argument("--skus", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--command", choices=("reserve", "adjust"), default="reserve")
    p.add_argument("--shops", type=int, default=0)
    p.add_argument("--lua-dir", default="")
    a = p.parse_args()
    if a.lua_dir:  # read by RedisInventory (its script id) and when it loads the script
        parts = ("alloc.lua", "take_order.lua", "apply.lua")
        redis_store.APPLY_LUA = "".join(Path(a.lua_dir, part).read_text() for part in parts)
    asyncio.run(main(a.redis, a.kafka, a.commands, a.skus, a.batch, a.command, a.shops))
