"""Inventory truth for reconciliation.

- :class:`KafkaLevelsTruth` reads the compacted ``inventory.levels.v1`` from the beginning to
  its end offsets (latest ``SkuLevels`` per SKU): the whole catalog in one pass.
- :class:`HttpTruth` asks inventory-adjuster's read API ``GET /inventory/{sku}`` per SKU:
  for targeted runs over a few SKUs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import ValidationError

from stocksync_common.events import InventoryLevelsUpdated, SkuLevels, decode
from stocksync_common.inventory_view import InventoryView
from stocksync_common.kafka import consumer_started, stop_consumer
from stocksync_common.transport import KafkaSecurity, kafka_options


class TruthSource(Protocol):
    async def snapshot(self, skus: Sequence[str] | None) -> dict[str, SkuLevels]: ...


class KafkaLevelsTruth:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        security: KafkaSecurity | None = None,
        *,
        idle_timeout_s: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.topic = topic
        self.idle_timeout_s = idle_timeout_s

    async def snapshot(self, skus: Sequence[str] | None) -> dict[str, SkuLevels]:
        wanted = set(skus) if skus is not None else None
        consumer = AIOKafkaConsumer(
            self.topic,  # without a group: every partition is assigned to us
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            client_id="shopify-sync-reconcile",
            **kafka_options(self.security),
        )
        await consumer_started(consumer)
        try:
            tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
            if not tps:
                return {}
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            return await self._read(consumer, ends, wanted)
        finally:
            await stop_consumer(consumer)

    async def _read(
        self,
        consumer: AIOKafkaConsumer,
        ends: dict[TopicPartition, int],
        wanted: set[str] | None,
    ) -> dict[str, SkuLevels]:
        out: dict[str, SkuLevels] = {}
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await asyncio.wait_for(
                consumer.getmany(*remaining, timeout_ms=500), timeout=self.idle_timeout_s
            )
            for records in batches.values():
                for record in records:
                    self._apply(out, record.key, record.value, wanted)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out

    @staticmethod
    def _apply(
        out: dict[str, SkuLevels], key: bytes | None, value: bytes | None, wanted: set[str] | None
    ) -> None:
        if value is None:  # a tombstone: the SKU is gone
            if key is not None:
                out.pop(key.decode(), None)
            return
        try:
            event = decode(value)
        except (ValidationError, ValueError):
            return
        if not isinstance(event, InventoryLevelsUpdated):
            return
        levels = event.payload
        if wanted is not None and levels.sku not in wanted:
            return
        current = out.get(levels.sku)
        if current is None or levels.version >= current.version:
            out[levels.sku] = levels


class HttpTruth:
    def __init__(self, http: httpx.AsyncClient, base_url: str, *, concurrency: int = 16) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency

    async def snapshot(self, skus: Sequence[str] | None) -> dict[str, SkuLevels]:
        if skus is None:
            raise ValueError("the read API answers per SKU: name the SKUs")
        limit = asyncio.Semaphore(self.concurrency)

        async def one(sku: str) -> SkuLevels | None:
            async with limit:
                resp = await self.http.get(f"{self.base_url}/inventory/{quote(sku, safe='')}")
            if resp.status_code == 404:
                return None
            resp.raise_for_status()
            return InventoryView.model_validate_json(resp.content).levels()

        found = await asyncio.gather(*(one(s) for s in dict.fromkeys(skus)))
        return {levels.sku: levels for levels in found if levels is not None}
