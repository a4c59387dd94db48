"""Writes in doubt kept in Redis: what one process records before a call, another reads
back whole after a restart, and a dropped one is gone."""

from __future__ import annotations

import uuid

import pytest

from shopify_sync.adapters.intents import RedisIntents
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.quantities import Exposure
from stocksync_common.redis_client import connect

pytestmark = pytest.mark.integration


def intent(key: str, sku: str) -> Intent:
    item = {"inventoryItemId": "gid://shopify/InventoryItem/1", "quantity": 4}
    return Intent(
        {"input": {"quantities": [item]}, "idempotencyKey": key},
        {(sku, "wh-1"): 4},
        {(sku, "wh-1"): Exposure(5, 3)},
        {(sku, "wh-1"): Exposure(8, 3)},
    )


async def test_intents_survive_a_new_connection_and_drop_by_key(redis_url: str) -> None:
    shop = f"in-doubt-{uuid.uuid4().hex[:8]}.myshopify.com"
    first, second = intent("k1", "A"), intent("k2", "B")
    async with connect(redis_url) as redis:
        intents = RedisIntents(redis)
        await intents.put(shop, first)
        await intents.put(shop, second)
    async with connect(redis_url) as redis:  # another process
        intents = RedisIntents(redis)
        assert await intents.all(shop) == {"k1": first, "k2": second}
        await intents.drop(shop, ["k1"])
        await intents.drop(shop, [])
        assert await intents.all(shop) == {"k2": second}
        await intents.drop(shop, ["k2"])
        assert await intents.all(shop) == {}
