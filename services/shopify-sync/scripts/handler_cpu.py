"""CPU per stock change through the changes consumer's decode and ``ChangeRecorder.handle_many``
against a real Redis.

    uv run --frozen python services/shopify-sync/scripts/handler_cpu.py \
        [--redis redis://127.0.0.1:16379/0] [--changes 5000] [--skus 1000] [--batch 1] \
        [--stores 2] [--decode narrow|full]

Flash-sale shaped: SKUs stocked at 50 selling one unit at a time, each change as the adjuster
writes it (an order line, ``seen`` per shop), fed from its record bytes through the decoder
the changes consumer uses (``narrow``: ``narrow_changes.decode_changes``, ADR 0041; ``full``:
the pydantic decode it used before) and then the handler, as the consumer loop does: one
fetch of ``--batch`` records at a time (1: a record per fetch, the consumer at moderate
rates). ``--stores`` stores map the location; no lane runs (what is measured is decoding and
recording). Reports the process CPU (this process only; Redis's own CPU is not counted) and
wall time per change, and the decode alone. Its keys live under fresh shops and are deleted
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.lanes import Lanes
from shopify_sync.narrow_changes import decode_changes
from shopify_sync.own_events import decode as decode_full
from stocksync_common.consumer import Incoming
from stocksync_common.events import InventoryChanged, Levels, OrderLineRef, StockChange, encode
from stocksync_common.stores import Store, StoresConfig
from stocksync_common.topics import INVENTORY_CHANGED
from stocksync_common.tracing import setup_tracing

DECODERS: dict[str, Callable[[bytes | None], Any]] = {
    "narrow": decode_changes,
    "full": decode_full,
}


@dataclass
class _Record:
    """The fields of a consumed record the loop and the handler read."""

    key: bytes | None
    value: bytes | None
    topic: str = INVENTORY_CHANGED
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = ()


def records(n: int, skus: int, run: str, shops: list[str]) -> list[_Record]:
    out = []
    sold = [0] * skus
    for i in range(n):
        s = i % skus
        sku, before = f"CPU-{run}-{s}", 50 - sold[s]
        sold[s] += 1
        shop = shops[i % len(shops)]
        change = StockChange(
            sku=sku,
            location="wh-1",
            command="reserve",
            idempotency_key=f"{shop}:order:o{i}:1",
            version=sold[s] + 1,  # version 1 was the stock import
            before=Levels(on_hand=50, reserved=50 - before, available=before),
            after=Levels(on_hand=50, reserved=51 - before, available=before - 1),
            sku_available_before=before,
            sku_available_after=before - 1,
            order=OrderLineRef(shop=shop, order_id=f"o{i}", line_id="1"),
            seen={x: sold[s] if x == shop else 0 for x in shops},
        )
        event = InventoryChanged(source="inventory-adjuster", shop=shop, payload=change)
        out.append(_Record(sku.encode(), encode(event), offset=i))
    return out


def store(shop: str) -> Store:
    return Store.model_validate(
        {"shop": shop, "access_token": "t", "webhook_secret": "s", "locations": {"wh-1": "L1"}}
    )


async def main(url: str, n: int, skus: int, batch: int, stores: int, decoder: str) -> None:
    setup_tracing("shopify-sync", "none")  # as the service runs: real spans, none exported
    run = uuid.uuid4().hex[:8]
    shops = [f"cpu-{run}-{i}.myshopify.com" for i in range(stores)]
    redis = Redis.from_url(url)
    recorder = ChangeRecorder(
        StoresConfig(stores=[store(s) for s in shops]), RedisSyncState(redis), Lanes()
    )
    decode = DECODERS[decoder]
    raw = records(n, skus, run, shops)
    tp = TopicPartition(INVENTORY_CHANGED, 0)

    async def fetch(part: Sequence[_Record]) -> None:
        await recorder.handle_many([(tp, [Incoming(r, decode(r.value)) for r in part])])

    await fetch(raw[:batch])  # warm up: scripts loaded
    rest = raw[batch:]
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(rest), batch):
        await fetch(rest[i : i + batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    alone = time.process_time()
    for r in rest:
        decode(r.value)
    alone = time.process_time() - alone
    done = len(rest)
    size = sum(len(r.value or b"") for r in rest) / done
    print(  # noqa: T201
        f"{decoder}: {done} changes ({size:.0f} bytes), {skus} SKUs, {stores} stores, "
        f"fetches of {batch}: CPU {cpu * 1e6 / done:.1f} us/change "
        f"(decode alone {alone * 1e6 / done:.2f}), wall {wall * 1e6 / done:.1f} us/change"
    )
    keys = [k for s in shops async for k in redis.scan_iter(f"sync:*{{{s}}}", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])
    await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis", default="redis://127.0.0.1:16379/0")
    p.add_argument("--changes", type=int, default=5000)
    p.add_argument("--skus", type=int, default=1000)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--stores", type=int, default=2)
    p.add_argument("--decode", choices=sorted(DECODERS), default="narrow")
    a = p.parse_args()
    asyncio.run(main(a.redis, a.changes + a.batch, a.skus, a.batch, a.stores, a.decode))
