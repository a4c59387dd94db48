"""The delivery ledger in Redis: which deliveries were published, which are in flight, and
how many requests each sender made this second.

One key per delivery, ``webhook:seen:{<shop>}:<delivery id>``, holds either a claim
(``pending:<token>``, short TTL, refreshed while the record is in the producer) or the
record of a publish Kafka acknowledged (``done:<event id>:<X-Shopify-Event-Id>``, kept for
the dedupe window). The per-second counter ``webhook:rate:{<shop>}:<epoch second>`` shares
the hash tag, so one script touches one slot (Redis Cluster ready).

The request path makes two calls. ``begin`` (before the publish) is one round trip that
checks the delivery, counts the request against the sender's rate and claims the delivery.
``record`` (after Kafka's acknowledgement) cannot be folded into it: before the publish
nothing may say "seen" (a crash or a broker outage would then lose the delivery), and Redis
learns of the acknowledgement only through a second call. The claim is what makes the
second call safe: a concurrent copy of the same delivery sees it and is told to retry
instead of publishing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)

PENDING = "pending:"

# KEYS: seen key, rate key. ARGV: claim token, claim ttl (ms), rate limit, rate key ttl (s).
BEGIN = """
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 8) == 'pending:' then return 2 end
  return 1
end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4])) end
if n > tonumber(ARGV[3]) then return 3 end
redis.call('SET', KEYS[1], 'pending:' .. ARGV[1], 'PX', tonumber(ARGV[2]))
return 0
"""

# KEYS: seen key. ARGV: claim token, and for KEEP the new ttl (ms).
RELEASE = """
if redis.call('GET', KEYS[1]) == 'pending:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
KEEP = """
if redis.call('GET', KEYS[1]) == 'pending:' .. ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""


class Verdict(Enum):
    NEW = 0  # claimed: publish it
    SEEN = 1  # published before: acknowledge without publishing again
    IN_FLIGHT = 2  # another attempt holds the claim (publishing, or in doubt): retry later
    RATE_LIMITED = 3
    UNCHECKED = 4  # Redis did not answer: nothing can be decided (see Intake)


def seen_key(sender: str, delivery_id: str) -> str:
    return f"webhook:seen:{{{sender}}}:{delivery_id}"


def rate_key(sender: str, second: int) -> str:
    return f"webhook:rate:{{{sender}}}:{second}"


@dataclass
class RedisLedger:
    redis: Redis
    dedupe_ttl_s: int
    claim_ttl_s: float

    def __post_init__(self) -> None:
        self._begin: AsyncScript = self.redis.register_script(BEGIN)
        self._release: AsyncScript = self.redis.register_script(RELEASE)
        self._keep: AsyncScript = self.redis.register_script(KEEP)

    async def begin(self, key: str, rate: str, token: str, limit: int) -> Verdict:
        args: list[str | int] = [token, int(self.claim_ttl_s * 1000), limit, 2]
        return Verdict(int(await self._begin(keys=[key, rate], args=args)))

    async def record(self, key: str, value: str) -> None:
        await self.redis.set(key, value, ex=self.dedupe_ttl_s)

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[key], args=[token])

    async def keep(self, claims: dict[str, str]) -> None:
        """Refresh the claims this process still holds (key -> token)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, token in claims.items():
                await self._keep(
                    keys=[key], args=[token, int(self.claim_ttl_s * 1000)], client=pipe
                )
            await pipe.execute()

    async def erase_sender(self, sender: str) -> int:
        """Delete every delivery record of one shop (``shop/redact``); returns how many."""
        erased = 0
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=seen_key(sender, "*"), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                erased += int(await self.redis.unlink(*batch))
                batch.clear()
        if batch:
            erased += int(await self.redis.unlink(*batch))
        return erased
