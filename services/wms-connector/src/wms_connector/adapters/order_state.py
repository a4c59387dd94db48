"""What the connector remembers per order in Redis: whether the WMS has it, and its WMS id.

``wms:order:{<shop>:<order id>}`` is a hash (``status``, ``wms_id``); the hash tag keeps it
on one slot. A redelivered order event finds the status and sends nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from wms_connector.domain.outbound import OrderStatus


def key(ref: str) -> str:
    return f"wms:order:{{{ref}}}"


@dataclass
class RedisOrderState:
    redis: Redis
    ttl_s: int = 90 * 24 * 3600

    async def get(self, ref: str) -> tuple[OrderStatus | None, str | None]:
        raw = await self.redis.hmget(key(ref), ["status", "wms_id"])
        status, wms_id = (_text(v) for v in raw)
        return cast(OrderStatus | None, status), wms_id

    async def set(self, ref: str, status: OrderStatus, wms_id: str | None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key(ref), "status", status)
            pipe.hset(key(ref), "wms_id", wms_id or "")
            pipe.expire(key(ref), self.ttl_s)
            await pipe.execute()


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode()
    return value if isinstance(value, str) and value else None
