"""Fixtures of the apply-script tests: a fresh SKU and a store with a group of its own; the
rebuild tests' Redis (database 5) and topics of their own."""

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis.asyncio import Redis

from inventory_adjuster import handlers
from inventory_adjuster.adapters.redis_store import RedisInventory
from stocksync_common.redis_client import connect
from support.rebuild_topics import Topics, db5


@pytest.fixture
def sku():
    return f"IT-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(redis):
    return RedisInventory(redis, f"g-{uuid.uuid4().hex[:6]}", idem_ttl_s=3600, ledger_max_len=1000)


@pytest.fixture
async def redis5(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(db5(redis_url))
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def topics3(kafka_bootstrap: str) -> AsyncIterator[Topics]:
    run = uuid.uuid4().hex[:8]
    topics = Topics(
        f"it-rebuild-{run}.commands", f"it-rebuild-{run}.levels", f"it-rebuild-{run}.changed"
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics(
        [
            NewTopic(topics.commands, 3, 1),
            NewTopic(topics.levels, 3, 1, topic_configs={"cleanup.policy": "compact"}),
            NewTopic(topics.changed, 3, 1),
        ]
    )
    yield topics
    await admin.delete_topics([topics.commands, topics.levels, topics.changed])
    await admin.close()


@pytest.fixture
def handler_topics(topics3: Topics, monkeypatch: pytest.MonkeyPatch) -> Topics:
    """``topics3``, where the handler publishes its changes and levels records."""
    monkeypatch.setattr(handlers, "INVENTORY_LEVELS", topics3.levels)
    monkeypatch.setattr(handlers, "INVENTORY_CHANGED", topics3.changed)
    return topics3
