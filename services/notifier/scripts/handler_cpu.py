"""CPU per stock change through ``AlertHandler.handle_batch`` against a real Redis.

    uv run --frozen python services/notifier/scripts/handler_cpu.py \
        [--redis redis://127.0.0.1:16379/0] [--changes 5000] [--skus 1000] [--batch 100] \
        [--decode notifier|full|none]

Flash-sale shaped: SKUs already stocked (50 units) each selling one unit at a time, fed as
one partition's batches the way the consumer loop hands them over (a SKU appears several
times in a batch when ``--skus`` is below the batch size times the batches). Default
rules, one channel, no worker: what is measured is the handler, not delivery. Reports the
process CPU (this process only; Redis's own CPU is not counted) and wall time per change.
``--decode``: each record's value is parsed inside the measured loop, as the consumer does,
by the notifier's decoder (the default, ADR 0042) or the shared full pydantic one; ``none``
hands the handler events built beforehand (what this measured before ADR 0042). The garbage
collector is tuned as in the service (ADR 0033: its thresholds, the heap frozen once warm),
or every young collection would walk the events and records the bench keeps.
Its keys live under a fresh prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from notifier import decoding
from notifier.adapters.alerts_log import AlertLog
from notifier.adapters.digests import Digests
from notifier.adapters.outbox import Outbox
from notifier.adapters.quiet import QuietPeriods
from notifier.adapters.reorders import ReorderPublisher
from notifier.adapters.rules_store import RulesStore
from notifier.adapters.state import SkuStates, VelocityWindow
from notifier.handlers import AlertHandler
from stocksync_common import gc_tuning
from stocksync_common.consumer import Decoder, Incoming
from stocksync_common.events import InventoryChanged, Levels, OrderLineRef, StockChange, encode
from stocksync_common.events import decode as full_decode
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import INVENTORY_CHANGED
from stocksync_common.tracing import setup_tracing


@dataclass
class _Record:
    """The fields of a consumed record the handler reads."""

    key: bytes | None
    topic: str = INVENTORY_CHANGED
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def changes(n: int, skus: int, run: str) -> list[InventoryChanged]:
    out = []
    sold = [0] * skus
    for i in range(n):
        s = i % skus
        sku, before = f"CPU-{run}-{s}", 50 - sold[s]
        sold[s] += 1
        order = OrderLineRef(shop="north.myshopify.com", order_id=f"o{i}", line_id="1")
        change = StockChange(
            sku=sku,
            location="wh-1",
            command="reserve",
            idempotency_key=f"{sku}:{i}",
            version=sold[s] + 1,  # version 1 was the stock import
            before=Levels(),
            after=Levels(),
            sku_available_before=before,
            sku_available_after=before - 1,
            order=order,
        )
        out.append(InventoryChanged(source="cpu", shop="north.myshopify.com", payload=change))
    return out


DECODERS: dict[str, Decoder | None] = {
    "notifier": decoding.decode,
    "full": full_decode,
    "none": None,
}


def incoming(records: Sequence[_Record], decode: Decoder) -> list[Incoming]:
    """The records as the consumer loop hands them over, parsed by ``decode``."""
    return [Incoming(r, decode(r.value)) for r in records]


async def main(url: str, n: int, skus: int, batch: int, decode: Decoder | None) -> None:
    setup_tracing("notifier", "none")  # as the service runs: real spans, none exported
    run = uuid.uuid4().hex[:8]
    prefix = f"notifier-cpu-{run}"
    redis = Redis.from_url(url)
    outboxes = {"slack": Outbox(redis, "slack", prefix)}
    handler = AlertHandler(
        rules=RulesStore(redis, prefix),
        states=SkuStates(redis, prefix),
        velocity=VelocityWindow(redis, 60, prefix),
        alerts=AlertLog(redis, outboxes, prefix),
        digests=Digests(redis, prefix),
        reorders=ReorderPublisher(None, 1.0),  # default rules: never publishes
        channels=("slack",),
        quiet=QuietPeriods(redis, prefix),
    )
    events = changes(n, skus, run)
    records = [_Record(e.payload.sku.encode(), value=encode(e)) for e in events]
    items = [Incoming(r, e) for r, e in zip(records, events, strict=True)]
    tp = TopicPartition(INVENTORY_CHANGED, 0)
    await handler.handle_batch(tp, items[:batch])  # warm up: scripts loaded, rules read
    rest, raw = items[batch:], records[batch:]
    gc_tuning.tune(CommonSettings.model_fields["gc_thresholds"].default)
    gc_tuning.freeze()  # as the service once started: what the bench built is left out
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(rest), batch):
        part = rest[i : i + batch] if decode is None else incoming(raw[i : i + batch], decode)
        await handler.handle_batch(tp, part)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = len(rest)
    print(  # noqa: T201
        f"{done} changes, {skus} SKUs, batches of {batch}: "
        f"CPU {cpu * 1e6 / done:.0f} us/change, wall {wall * 1e6 / done:.0f} us/change "
        f"({done / wall:.0f} changes/s)"
    )
    keys = [k async for k in redis.scan_iter(f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])
    await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis", default="redis://127.0.0.1:16379/0")
    p.add_argument("--changes", type=int, default=5000)
    p.add_argument("--skus", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--decode", choices=sorted(DECODERS), default="notifier")
    a = p.parse_args()
    asyncio.run(main(a.redis, a.changes + a.batch, a.skus, a.batch, DECODERS[a.decode]))
