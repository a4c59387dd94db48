"""The catalog mapping in Redis.

- ``sync:catalog:{<shop>}``: hash SKU -> JSON (product, variant, inventory item gids and the
  location gids the item is stocked at).
- ``skumap:{<shop>}``: hash ``variant:<id>`` -> SKU and ``inventory_item:<id>`` -> SKU, with
  the numeric ids webhooks carry; order-consumer reads it for lines without a SKU.
- ``sync:absent:{<shop>}``: hash SKU -> epoch seconds it was last looked up and not found.
- ``sync:catalog-products:{<shop>}``: hash product gid -> JSON list of the SKUs its last
  products/* webhook showed (a variant removed from a product is unmapped).
- ``sync:catalog-meta:{<shop>}``: hash of how and when the catalog was last discovered, and
  the problems found (JSON).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from shopify_sync.adapters.redis_state import text
from shopify_sync.domain.catalog import CatalogEntry, gid_number

CHUNK = 1000


def catalog_key(shop: str) -> str:
    return f"sync:catalog:{{{shop}}}"


def skumap_key(shop: str) -> str:
    return f"skumap:{{{shop}}}"


def absent_key(shop: str) -> str:
    return f"sync:absent:{{{shop}}}"


def products_key(shop: str) -> str:
    return f"sync:catalog-products:{{{shop}}}"


def meta_key(shop: str) -> str:
    return f"sync:catalog-meta:{{{shop}}}"


def reverse_fields(entry: CatalogEntry) -> dict[str, str]:
    return {
        f"variant:{gid_number(entry.variant_id)}": entry.sku,
        f"inventory_item:{gid_number(entry.item_id)}": entry.sku,
    }


class RedisCatalog:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def entries(self, shop: str, skus: Iterable[str]) -> dict[str, CatalogEntry]:
        ordered = list(dict.fromkeys(skus))
        out: dict[str, CatalogEntry] = {}
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            values = await self.redis.hmget(catalog_key(shop), part)
            for sku, raw in zip(part, values, strict=True):
                if raw is not None:
                    out[sku] = CatalogEntry.decode(sku, raw)
        return out

    async def all_entries(self, shop: str) -> list[CatalogEntry]:
        raw: dict[Any, Any] = await self.redis.hgetall(catalog_key(shop))
        entries = [CatalogEntry.decode(text(sku), value) for sku, value in raw.items()]
        return sorted(entries, key=lambda e: e.sku)

    async def count(self, shop: str) -> int:
        return int(await self.redis.hlen(catalog_key(shop)))

    async def put(
        self, shop: str, entries: Sequence[CatalogEntry], *, replace: bool = False
    ) -> None:
        # New fields first, stale ones after: readers never see a SKU vanish and come back.
        old = await self.entries(shop, [e.sku for e in entries])
        for start in range(0, len(entries), CHUNK):
            part = entries[start : start + CHUNK]
            reverse: dict[FieldT, EncodableT] = {}
            for e in part:
                reverse.update(reverse_fields(e))
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(catalog_key(shop), mapping={e.sku: e.encode() for e in part})
                pipe.hset(skumap_key(shop), mapping=reverse)
                pipe.hdel(absent_key(shop), *[e.sku for e in part])
                await pipe.execute()
        new = {e.sku: reverse_fields(e) for e in entries}
        stale_reverse = [
            f for sku, e in old.items() for f in reverse_fields(e) if f not in new.get(sku, {})
        ]
        if stale_reverse:
            await self.redis.hdel(skumap_key(shop), *stale_reverse)
        if replace:
            keep = {e.sku for e in entries}
            current = [text(s) for s in await self.redis.hkeys(catalog_key(shop))]
            await self.remove(shop, [s for s in current if s not in keep])

    async def remove(self, shop: str, skus: Iterable[str]) -> None:
        gone = await self.entries(shop, skus)
        if not gone:
            return
        fields = [f for e in gone.values() for f in reverse_fields(e)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(catalog_key(shop), *gone)
            pipe.hdel(skumap_key(shop), *fields)
            await pipe.execute()

    async def skus_of_variants(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(variant_ids))
        if not ids:
            return {}
        fields = [f"variant:{gid_number(v)}" for v in ids]
        values = await self.redis.hmget(skumap_key(shop), fields)
        return {v: text(s) for v, s in zip(ids, values, strict=True) if s is not None}

    async def swap_product_skus(self, shop: str, product_id: str, skus: Sequence[str]) -> list[str]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(products_key(shop), product_id)
            if skus:
                pipe.hset(products_key(shop), product_id, json.dumps(list(skus)))
            else:
                pipe.hdel(products_key(shop), product_id)
            before, _ = await pipe.execute()
        return [str(s) for s in json.loads(before)] if before else []

    async def absent(self, shop: str, skus: Iterable[str], max_age_s: float) -> set[str]:
        ordered = list(dict.fromkeys(skus))
        if not ordered:
            return set()
        values = await self.redis.hmget(absent_key(shop), ordered)
        now = time.time()
        return {
            sku
            for sku, at in zip(ordered, values, strict=True)
            if at is not None and now - float(at) < max_age_s
        }

    async def mark_absent(self, shop: str, skus: Iterable[str]) -> None:
        now = str(time.time())
        mapping: dict[FieldT, EncodableT] = dict.fromkeys(skus, now)
        if mapping:
            await self.redis.hset(absent_key(shop), mapping=mapping)

    async def clear_absent(self, shop: str, skus: Iterable[str]) -> None:
        names = list(skus)
        if names:
            await self.redis.hdel(absent_key(shop), *names)

    async def meta(self, shop: str) -> dict[str, Any]:
        raw: dict[Any, Any] = await self.redis.hgetall(meta_key(shop))
        return {text(k): json.loads(v) for k, v in raw.items()}

    async def set_meta(self, shop: str, meta: Mapping[str, Any]) -> None:
        if meta:
            await self.redis.hset(
                meta_key(shop), mapping={k: json.dumps(v) for k, v in meta.items()}
            )
