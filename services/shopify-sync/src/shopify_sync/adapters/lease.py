"""A lease in Redis: one replica at a time pushes to a given shop.

Shopify's bucket belongs to the app and the store, so two replicas pacing the same shop
on their own would overspend it together. The holder renews the lease well before it
expires; a replica that dies loses it after ``ttl_s`` and another takes over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

# 1: renewed (held all along); 2: taken afresh (nobody held it: whoever held it before may
# have written in between); 0: another owner holds it.
HOLD_LUA = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
RENEWED = 1

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(
        self,
        redis: Redis,
        key: str,
        owner: str,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.key = key
        self.owner = owner
        self.ttl_s = ttl_s
        self.clock = clock
        # Called whenever holding is not continuous: the lease taken afresh or refused. What
        # this owner remembers of the shop's writes since it last held the lease (the
        # exposures cache) may be out of date then: another replica may have written.
        self.on_change = on_change
        self._hold = redis.register_script(HOLD_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._until = 0.0

    async def hold(self) -> bool:
        """True while this owner holds the lease (renewed when a third of it is used)."""
        now = self.clock()
        if self._until - now > self.ttl_s * 2 / 3:
            return True
        got = int(await self._hold(keys=[self.key], args=[self.owner, int(self.ttl_s * 1000)]))
        self._until = now + self.ttl_s if got else 0.0
        if got != RENEWED and self.on_change is not None:
            self.on_change()
        return bool(got)

    async def release(self) -> None:
        self._until = 0.0
        await self._release(keys=[self.key], args=[self.owner])
