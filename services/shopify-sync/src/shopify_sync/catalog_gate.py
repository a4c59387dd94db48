"""Fair lanes for catalog work: inventory first, and a bound per shop.

Catalog writes to a store take a turn from this gate before each call. A turn waits while
that store has inventory changes pending (its lane drains them first), up to
``max_wait_s`` so catalog work is never starved for good, and at most ``per_shop`` catalog
calls run at once per store. Stores never share a turn: each is paced by its own cost
bucket, so one merchant's large catalog sync never holds back another store's inventory
or catalog work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from shopify_sync.ports import SyncState
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class CatalogGate:
    state: SyncState
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    poll_s: float = 0.02
    max_wait_s: float = 30.0
    per_shop: int = 1
    yielded: dict[str, int] = field(default_factory=dict)  # waits for inventory, per shop
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def _slot(self, shop: str) -> asyncio.Semaphore:
        slot = self._slots.get(shop)
        if slot is None:
            slot = self._slots[shop] = asyncio.Semaphore(self.per_shop)
        return slot

    async def _inventory_pending(self, shop: str) -> bool:
        try:
            return await self.state.pending_count(shop) > 0
        except REDIS_ERRORS as exc:
            if not redis_failed(exc):
                raise
            log.warning("pending count unavailable", extra={"shop": shop}, exc_info=True)
            return False

    @contextlib.asynccontextmanager
    async def turn(self, shop: str) -> AsyncIterator[None]:
        """One catalog call's turn at ``shop``."""
        async with self._slot(shop):
            deadline = self.clock() + self.max_wait_s
            while await self._inventory_pending(shop) and self.clock() < deadline:
                self.yielded[shop] = self.yielded.get(shop, 0) + 1
                await self.sleep(self.poll_s)
            yield
