"""What the connector remembers per order in Redis: whether the WMS has it, and its WMS id.

``wms:order:{<shop>:<order id>}`` is a hash (``status``, ``wms_id``, and for a routed order
``line|<sku>|<location>`` -> line id: what its shipments commit against, and
``follow_up|<ref>`` for each follow-up fulfilment order's reference, which has a hash of its
own; ADR 0031); the hash tag keeps it on one slot. A redelivered order event finds the
status and sends nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.typing import EncodableT

from wms_connector.domain.outbound import OrderStatus

LINE = "line|"
FOLLOW_UP = "follow_up|"


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

    async def remember_lines(self, ref: str, lines: Mapping[tuple[str, str], str]) -> None:
        """A routed order's line id per (SKU, location) it went to the WMS with."""
        if lines:
            fields = {f"{LINE}{sku}|{loc}": line_id for (sku, loc), line_id in lines.items()}
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key(ref), mapping=dict[EncodableT, EncodableT](fields.items()))
                pipe.expire(key(ref), self.ttl_s)
                await pipe.execute()

    async def lines_of(self, ref: str) -> dict[tuple[str, str], str]:
        """What :meth:`remember_lines` kept for the order (empty for an unrouted one)."""
        out = {}
        for field, value in (await self.redis.hgetall(key(ref))).items():
            name, line_id = _text(field) or "", _text(value)
            sku, sep, loc = name.removeprefix(LINE).rpartition("|")
            if name.startswith(LINE) and sep and line_id:
                out[(sku, loc)] = line_id
        return out

    async def add_follow_up(self, ref: str, follow_up: str) -> None:
        """Remember a follow-up fulfilment order of the order ``ref`` (cancelled with it)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key(ref), f"{FOLLOW_UP}{follow_up}", "1")
            pipe.expire(key(ref), self.ttl_s)
            await pipe.execute()

    async def follow_ups(self, ref: str) -> list[str]:
        fields = [_text(f) or "" for f in await self.redis.hkeys(key(ref))]
        return sorted(f.removeprefix(FOLLOW_UP) for f in fields if f.startswith(FOLLOW_UP))

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
