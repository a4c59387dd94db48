"""An outbox per channel in Redis: alerts wait there until delivered or dead-lettered.

A sorted set orders alert ids by when they are next due; a hash holds the items. Enqueue is
idempotent by alert id (a replayed crossing is not delivered twice). A claim leases the
item (its due time moves past the lease) so a crashed worker's item comes back by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from redis.asyncio import Redis

from notifier.domain.alerts import Alert

SEEN_TTL_S = 7 * 24 * 3600
ENQUEUE = """
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3] - ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #ids == 0 then return nil end
redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ids[1])
return {ids[1], redis.call('HGET', KEYS[2], ids[1])}
"""


class Item(BaseModel):
    alert: Alert
    attempts: int = 0
    last_error: str | None = None


@dataclass
class Outbox:
    redis: Redis
    channel: str
    prefix: str = "notifier"

    def __post_init__(self) -> None:
        base = f"{self.prefix}:outbox:{{{self.channel}}}"
        self.due_key, self.items_key, self.seen_key = f"{base}:due", f"{base}:items", f"{base}:seen"
        self._enqueue = self.redis.register_script(ENQUEUE)
        self._claim = self.redis.register_script(CLAIM)

    @property
    def keys(self) -> list[str]:
        return [self.due_key, self.items_key, self.seen_key]

    async def enqueue(self, alert: Alert, now: float) -> bool:
        """Add an alert; False if this alert id was already queued (or delivered) lately."""
        body = Item(alert=alert).model_dump_json()
        args: list[str | float] = [alert.id, body, now, SEEN_TTL_S]
        return bool(await self._enqueue(keys=self.keys, args=args))

    async def claim(self, now: float, lease_s: float) -> Item | None:
        """The next due item, leased for ``lease_s``; None when nothing is due."""
        got = await self._claim(keys=self.keys, args=[now, lease_s])
        if not got or got[1] is None:
            return None
        return Item.model_validate_json(got[1])

    async def done(self, alert_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.due_key, alert_id)
            pipe.hdel(self.items_key, alert_id)
            await pipe.execute()

    async def retry(self, item: Item, due: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.items_key, item.alert.id, item.model_dump_json())
            pipe.zadd(self.due_key, {item.alert.id: due})
            await pipe.execute()

    async def depth(self) -> int:
        return int(await self.redis.zcard(self.due_key))

    async def next_due(self) -> float | None:
        first = await self.redis.zrange(self.due_key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
