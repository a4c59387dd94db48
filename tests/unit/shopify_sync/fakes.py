"""In-memory stand-ins for shopify-sync's Redis state, with the same rules, and a clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.quantities import ItemKey, Known, Pending


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Time passes at once (one task at a time uses it)."""
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class MemorySyncState:
    pending_: dict[str, dict[ItemKey, Pending]] = field(default_factory=dict)
    known_: dict[str, dict[ItemKey, Known]] = field(default_factory=dict)
    stamps_: dict[str, dict[ItemKey, int]] = field(default_factory=dict)
    seq_: dict[str, int] = field(default_factory=dict)

    def _stamped(self, shop: str, keys: Iterable[ItemKey]) -> None:
        self.seq_[shop] = self.seq_.get(shop, 0) + 1
        for key in keys:
            self.stamps_.setdefault(shop, {})[key] = self.seq_[shop]

    async def stamp(self, shop: str) -> int:
        return self.seq_.get(shop, 0)

    async def record(self, shop: str, entries: Mapping[ItemKey, Pending]) -> int:
        kept = 0
        for key, p in entries.items():
            cur = self.pending_.get(shop, {}).get(key)
            applied = self.known_.get(shop, {}).get(key, Known()).applied
            if (cur is None or p.version > cur.version) and p.version >= applied:
                self.pending_.setdefault(shop, {})[key] = p
                kept += 1
        return kept

    async def record_many(self, entries: Mapping[str, Mapping[ItemKey, Pending]]) -> dict[str, int]:
        return {shop: await self.record(shop, mine) for shop, mine in entries.items()}

    async def pending(self, shop: str) -> dict[ItemKey, Pending]:
        return dict(self.pending_.get(shop, {}))

    async def pending_count(self, shop: str) -> int:
        return len(self.pending_.get(shop, {}))

    async def pending_of(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Pending]:
        mine = self.pending_.get(shop, {})
        return {k: mine[k] for k in keys if k in mine}

    async def known(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Known]:
        mine = self.known_.get(shop, {})
        return {k: mine.get(k, Known()) for k in keys}

    async def applied(self, shop: str, done: Mapping[ItemKey, tuple[Pending, int]]) -> None:
        for key, (p, level) in done.items():
            if self.pending_.get(shop, {}).get(key) == p:
                del self.pending_[shop][key]
            cur = self.known_.get(shop, {}).get(key, Known())
            self.known_.setdefault(shop, {})[key] = Known(max(cur.applied, p.version), level)
        self._stamped(shop, done)

    async def observed(
        self, shop: str, levels: Mapping[ItemKey, int | None], since: int | None = None
    ) -> None:
        stamps = self.stamps_.get(shop, {})
        newer = set() if since is None else {k for k in levels if stamps.get(k, 0) > since}
        for key, level in levels.items():
            if key in newer:
                continue
            cur = self.known_.get(shop, {}).get(key, Known())
            self.known_.setdefault(shop, {})[key] = Known(cur.applied, level)
        if since is None:
            self._stamped(shop, levels)

    async def discard(self, shop: str, entries: Mapping[ItemKey, Pending]) -> None:
        for key, p in entries.items():
            if self.pending_.get(shop, {}).get(key) == p:
                del self.pending_[shop][key]


@dataclass
class MemoryCatalog:
    entries_: dict[str, dict[str, CatalogEntry]] = field(default_factory=dict)
    absent_: dict[str, set[str]] = field(default_factory=dict)
    meta_: dict[str, dict[str, Any]] = field(default_factory=dict)
    products_: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    async def swap_product_skus(self, shop: str, product_id: str, skus: Sequence[str]) -> list[str]:
        before = self.products_.pop((shop, product_id), [])
        if skus:
            self.products_[(shop, product_id)] = list(skus)
        return before

    async def entries(self, shop: str, skus: Iterable[str]) -> dict[str, CatalogEntry]:
        mine = self.entries_.get(shop, {})
        return {s: mine[s] for s in skus if s in mine}

    async def all_entries(self, shop: str) -> list[CatalogEntry]:
        return sorted(self.entries_.get(shop, {}).values(), key=lambda e: e.sku)

    async def count(self, shop: str) -> int:
        return len(self.entries_.get(shop, {}))

    async def put(
        self, shop: str, entries: Sequence[CatalogEntry], *, replace: bool = False
    ) -> None:
        mine = self.entries_.setdefault(shop, {})
        if replace:
            mine.clear()
        for e in entries:
            mine[e.sku] = e
            self.absent_.get(shop, set()).discard(e.sku)

    async def remove(self, shop: str, skus: Iterable[str]) -> None:
        for s in skus:
            self.entries_.get(shop, {}).pop(s, None)

    async def skus_of_variants(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]:
        by_variant = {e.variant_id: e.sku for e in self.entries_.get(shop, {}).values()}
        return {v: by_variant[v] for v in variant_ids if v in by_variant}

    async def absent(self, shop: str, skus: Iterable[str], max_age_s: float) -> set[str]:
        return set(skus) & self.absent_.get(shop, set())

    async def mark_absent(self, shop: str, skus: Iterable[str]) -> None:
        self.absent_.setdefault(shop, set()).update(skus)

    async def clear_absent(self, shop: str, skus: Iterable[str]) -> None:
        self.absent_.get(shop, set()).difference_update(skus)

    async def meta(self, shop: str) -> dict[str, Any]:
        return dict(self.meta_.get(shop, {}))

    async def set_meta(self, shop: str, meta: Mapping[str, Any]) -> None:
        self.meta_.setdefault(shop, {}).update(meta)


@dataclass
class FakeDeadLetters:
    rejected: list[tuple[str, ItemKey, Pending, str, str]] = field(default_factory=list)

    async def reject(
        self, shop: str, rejected: Mapping[ItemKey, tuple[Pending, str]], reason: str
    ) -> None:
        for key, (p, detail) in rejected.items():
            self.rejected.append((shop, key, p, reason, detail))
