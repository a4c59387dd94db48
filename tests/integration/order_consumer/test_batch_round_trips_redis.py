"""A batch of webhooks on the real Redis, through a wrapper that logs every round trip: one
pipelined read and one pipelined save whatever the batch's size, webhooks of one order in
the batch applied in order and saved once, a conflict re-reading only its own order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from unit.order_consumer.fakes import FakeProducer, handler, webhook
from unit.order_consumer.payloads import SHOP, item, key, order

from order_consumer.adapters.redis_orders import SAVE_LUA, RedisOrders, order_key, skumap_key
from support.records import incoming

pytestmark = pytest.mark.integration
TP = TopicPartition("webhooks.shopify.v1", 0)


class CountingRedis:
    """The real client, with each round trip logged as the commands it carried."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.round_trips: list[list[str]] = []
        self.before_pipeline: Callable[[list[str]], Awaitable[None]] | None = None

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self.redis.pipeline(transaction=transaction)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> list[Any]:
            commands = [str(args[0]).upper() for args in _queued(pipe)]
            if self.before_pipeline is not None:
                await self.before_pipeline(commands)
            self.round_trips.append(commands)
            return await execute(raise_on_error=raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe

    def register_script(self, script: str) -> Any:
        return self.redis.register_script(script)  # no I/O: it only hashes the script

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.redis, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.round_trips.append([name.upper()])
            return await attr(*args, **kwargs)

        return counted


def _queued(pipe: Any) -> list[tuple[Any, ...]]:
    """The queued commands' arguments, of either client's pipeline (redis-py keeps them in
    ``command_stack``, or in its cluster pipeline's execution strategy)."""
    if hasattr(pipe, "command_stack"):
        return [args for args, _ in pipe.command_stack]
    return [c.args for c in pipe._execution_strategy._command_queue]


@pytest.fixture
async def counting(redis: Redis) -> CountingRedis:
    await redis.script_load(SAVE_LUA)  # the saves below then never meet NOSCRIPT
    return CountingRedis(redis)


async def test_a_batch_of_orders_reads_once_and_saves_once(redis, counting):
    producer = FakeProducer()
    h = handler(RedisOrders(counting, ttl_s=3600), producer)  # type: ignore[arg-type]
    oids = [uuid.uuid4().int % 10**12 for _ in range(20)]
    variant = uuid.uuid4().int % 10**9
    await redis.hset(skumap_key(SHOP), f"variant:{variant}", "SKU-MAPPED")
    events = [webhook("orders/create", order(oid, item(11, "SKU-A", 1)), f"c{oid}") for oid in oids]
    first = oids[0]
    events.append(webhook("orders/create", order(first, item(11, "SKU-A", 1)), f"c{first}"))
    cancel = order(first, item(11, "SKU-A", 1), updated=5, cancelled=5)
    events.append(webhook("orders/cancelled", cancel, f"x{first}"))
    mapped = uuid.uuid4().int % 10**12
    body = order(mapped, item(21, None, 2, variant_id=variant))
    events.append(webhook("orders/create", body, f"m{mapped}"))

    await h.handle_batch(TP, incoming(TP.topic, events))

    orders = len(oids) + 1
    # one read (the states, the shop's tombstone, the mapping), one save
    reads = ["HMGET"] * orders + ["EXISTS", "HMGET"]
    assert counting.round_trips == [reads, ["EVALSHA"] * orders]
    keys = [c.idempotency_key for c in producer.commands()]
    assert keys == [
        *(key(oid, 11, "reserve") for oid in oids),
        key(first, 11, "reserve"),  # the duplicate in the batch: the same command again
        key(first, 11, "release:cancel"),
        key(mapped, 21, "reserve"),
    ]
    assert [c.sku for c in producer.commands()][-1] == "SKU-MAPPED"
    # the create and the cancel of the first order were saved together, once
    assert await redis.hget(order_key(SHOP, str(first)), "rev") == b"1"
    saved = await h.orders.load(SHOP, str(first))
    assert saved.state is not None and saved.state.cancelled
    await redis.hdel(skumap_key(SHOP), f"variant:{variant}")


async def test_a_conflict_in_a_batch_reads_and_saves_only_its_own_order_again(redis, counting):
    def conflicts() -> float:
        return REGISTRY.get_sample_value("stocksync_order_save_conflicts_total") or 0.0

    producer = FakeProducer()
    h = handler(RedisOrders(counting, ttl_s=3600), producer)  # type: ignore[arg-type]
    oids = [uuid.uuid4().int % 10**12 for _ in range(5)]
    raced = order_key(SHOP, str(oids[2]))

    async def another_consumer_saves_first(commands: list[str]) -> None:
        if commands and commands[0] == "EVALSHA" and counting.before_pipeline is not None:
            counting.before_pipeline = None
            await redis.hset(raced, "rev", 7)  # its doc unchanged: still no state

    counting.before_pipeline = another_consumer_saves_first
    before = conflicts()
    events = [webhook("orders/create", order(o, item(11, "SKU-A", 1)), f"c{o}") for o in oids]
    await h.handle_batch(TP, incoming(TP.topic, events))

    assert counting.round_trips == [
        [*["HMGET"] * 5, "EXISTS"],
        ["EVALSHA"] * 5,
        ["HMGET", "EXISTS"],
        ["EVALSHA"],
    ]
    assert conflicts() == before + 1
    assert await redis.hget(raced, "rev") == b"8"
    assert [c.idempotency_key for c in producer.commands()] == [key(o, 11, "reserve") for o in oids]
