"""Levels as last seen, in Redis: a read's answer never overwrites a level a write set
after the read began (the scripts compare stamps atomically), and a read that began after
the write counts."""

from __future__ import annotations

import uuid

import pytest

from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.domain.quantities import Known, Pending
from stocksync_common.redis_client import connect

pytestmark = pytest.mark.integration
KEY, OTHER = ("A", "wh-1"), ("B", "wh-1")


async def test_a_read_older_than_a_write_keeps_the_written_level(redis_url: str) -> None:
    shop = f"known-{uuid.uuid4().hex[:8]}.myshopify.com"
    async with connect(redis_url) as redis:
        state = RedisSyncState(redis)
        assert await state.stamp(shop) == 0
        since = await state.stamp(shop)  # a discovery starts reading: A 0, B 0
        await state.record(shop, {KEY: Pending(1, 50)})
        await state.applied(shop, {KEY: (Pending(1, 50), 50)})  # the first sync wrote A
        await state.observed(shop, {KEY: 0, OTHER: 0}, since=since)  # its late answer
        known = await state.known(shop, [KEY, OTHER])
        assert known == {KEY: Known(1, 50), OTHER: Known(0, 0)}
        assert await state.pending(shop) == {}
        later = await state.stamp(shop)
        assert later > since
        await state.observed(shop, {KEY: 48}, since=later)  # read after the write: counts
        await state.observed(shop, {OTHER: 7})  # set by a write: counts, and is stamped
        await state.observed(shop, {OTHER: 3}, since=later)  # began before that write
        known = await state.known(shop, [KEY, OTHER])
        assert known == {KEY: Known(1, 48), OTHER: Known(0, 7)}
