"""What most services' containers hold (a Kafka producer, Redis, maybe an httpx client) as
the runtime's :class:`~stocksync_common.runtime.Service` takes it, so no bootstrap spells it
out: ``producer=wiring.producer, checks=wiring.redis_ready, closers=wiring.close_redis``
(or ``wiring.close_redis_and_http``)."""

from __future__ import annotations

from typing import Protocol, cast

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from stocksync_common.ops import Check
from stocksync_common.runtime import Client, Closer
from stocksync_common.service import redis_check


class _HasProducer(Protocol):
    @property
    def producer(self) -> AIOKafkaProducer: ...


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class _HasRedis(Protocol):
    @property
    def redis(self) -> Redis: ...


class _HasRedisAndHttp(_HasRedis, Protocol):
    @property
    def http(self) -> _Closable: ...


def producer(c: _HasProducer) -> Client:
    """The container's Kafka producer (its loops publish retries and dead letters with it)."""
    return cast(Client, c.producer)


def redis_ready(c: _HasRedis) -> dict[str, Check]:
    """Ready while the container's Redis answers."""
    return {"redis": redis_check(c.redis)}


def close_redis(c: _HasRedis) -> list[Closer]:
    return [c.redis.aclose]


def close_redis_and_http(c: _HasRedisAndHttp) -> list[Closer]:
    return [c.redis.aclose, c.http.aclose]
