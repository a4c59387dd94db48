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

Both calls are *batched across deliveries* (ADR 0015): every ``begin`` and ``record`` asked
for while a batch is on the wire waits for it, then they all go out as one pipeline (one
``EVALSHA`` or ``SET`` each, in the order asked). Redis runs a pipeline's commands one by
one, so each delivery's call means what it meant alone; a delivery still makes its two
calls, but a busy process pays one round trip (and one pass through redis-py) per batch
rather than per call. A batch that fails fails every call in it (``RedisError``), as each
call would have alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from stocksync_common.redis_client import run_script_many

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


MAX_BATCH = 512  # calls per pipeline; more wait for the next one

# One queued call: the command's arguments and the future its caller awaits.
Call = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


@dataclass
class Batcher:
    """Sends the calls queued meanwhile as one pipeline, one pipeline at a time."""

    redis: Redis
    queue: list[Call] = field(default_factory=list)
    _flushing: asyncio.Task[None] | None = None

    def call(self, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((args, fut))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return fut

    async def _flush(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
                await self._send(batch)
        except BaseException:  # cancelled (shutdown): no caller may wait forever
            for _, fut in self.queue:
                fut.cancel()
            self.queue = []
            raise
        finally:
            self._flushing = None

    async def _send(self, batch: list[Call]) -> None:
        try:
            replies = await self._pipeline([args for args, _ in batch])
            again = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if again:
                # Redis lost its script cache (restart, SCRIPT FLUSH): the script did not
                # run, so loading it and sending those calls again cannot apply anything twice.
                await self.redis.script_load(BEGIN)
                retried = await self._pipeline([batch[i][0] for i in again])
                for i, reply in zip(again, retried, strict=True):
                    replies[i] = reply
        except Exception as exc:  # noqa: BLE001 - every caller gets it, as each would alone
            replies = [exc] * len(batch)
        except BaseException:
            for _, fut in batch:
                fut.cancel()
            raise
        for (_, fut), reply in zip(batch, replies, strict=True):
            if fut.done():  # its caller gave up (cancelled)
                continue
            if isinstance(reply, BaseException):
                fut.set_exception(_own(reply))
            else:
                fut.set_result(reply)

    async def _pipeline(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for args in calls:
                pipe.execute_command(*args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


def _own(exc: BaseException) -> BaseException:
    """A copy of ``exc`` per caller (one instance raised in many tasks tangles tracebacks)."""
    try:
        copy = type(exc)(*exc.args)
    except Exception:  # noqa: BLE001 - an exception type that cannot be rebuilt: share it
        return exc
    copy.__cause__ = exc
    return copy


@dataclass
class RedisLedger:
    redis: Redis
    dedupe_ttl_s: int
    claim_ttl_s: float

    def __post_init__(self) -> None:
        self._begin: AsyncScript = self.redis.register_script(BEGIN)
        self._release: AsyncScript = self.redis.register_script(RELEASE)
        self._keep: AsyncScript = self.redis.register_script(KEEP)
        self._batch = Batcher(self.redis)
        self._claim_ms = int(self.claim_ttl_s * 1000)

    async def begin(self, key: str, rate: str, token: str, limit: int) -> Verdict:
        sha = self._begin.sha
        reply = await self._batch.call(
            "EVALSHA", sha, 2, key, rate, token, self._claim_ms, limit, 2
        )
        return Verdict(int(reply))

    async def record(self, key: str, value: str) -> None:
        await self._batch.call("SET", key, value, "EX", self.dedupe_ttl_s)

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[key], args=[token])

    async def keep(self, claims: dict[str, str]) -> None:
        """Refresh the claims this process still holds (key -> token)."""
        ttl_ms = int(self.claim_ttl_s * 1000)
        calls = [([key], [token, ttl_ms]) for key, token in claims.items()]
        await run_script_many(self.redis, self._keep, calls)

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
