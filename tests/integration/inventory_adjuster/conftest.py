"""Fixtures of the apply-script tests: a fresh SKU and a store with a group of its own."""

import uuid

import pytest

from inventory_adjuster.adapters.redis_store import RedisInventory


@pytest.fixture
def sku():
    return f"IT-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(redis):
    return RedisInventory(redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=1000)
