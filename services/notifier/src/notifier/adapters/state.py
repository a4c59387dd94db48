"""Per-SKU crossing state and the velocity window in Redis (one ``{sku}`` slot per script)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from notifier.domain.crossings import SkuState
from stocksync_common.redis_client import is_cluster, merged_calls, run_script_many

# The states of a batch's SKUs (KEYS), read in one call.
LOAD_MANY = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HMGET', KEYS[i], 's', 'done') end
return out
"""
# Each SKU's (KEYS[i]) decision stored if its stored version is still the expected one
# (compare-and-set: a second owner of the partition, a rebalance in flight, cannot overwrite
# a newer decision); ARGV, four per SKU: expected version, new version, state, done ("1":
# no effects left to carry out). The answers in order, 1 stored, 0 refused.
COMMIT_MANY = """
local out = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local v = tonumber(redis.call('HGET', KEYS[i], 'v') or '0')
  if v ~= tonumber(ARGV[a + 1]) then
    out[i] = 0
  else
    redis.call('HSET', KEYS[i], 'v', ARGV[a + 2], 's', ARGV[a + 3])
    if ARGV[a + 4] == '1' then redis.call('HSET', KEYS[i], 'done', ARGV[a + 2]) end
    out[i] = 1
  end
end
return out
"""
# On one Redis a batch's loads and commits are one script call each (up to MANY_MOST SKUs):
# a pipeline of one command per SKU cost the client about three times the CPU
# (docs/profiling.md, sixteenth session). On a Redis Cluster each SKU's state is a slot of
# its own: one command per SKU, pipelined.
MANY_MOST = 1000  # SKUs per script call: a call holds Redis for its whole run
MARK_DONE = """
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then redis.call('HSET', KEYS[1], 'done', ARGV[1]) end
return 1
"""
# Units sold per second in one hash per SKU; a change is counted once (version guard), so a
# replay after a restart does not count it again. Returns the units in the window ending now.
VELOCITY = """
local last = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local version, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local units, window = tonumber(ARGV[3]), tonumber(ARGV[4])
if version > last then
  redis.call('HSET', KEYS[1], 'v', version)
  if units > 0 then redis.call('HINCRBY', KEYS[1], 's' .. now, units) end
end
local total = 0
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local f = flat[i]
  if string.sub(f, 1, 1) == 's' then
    local sec = tonumber(string.sub(f, 2))
    if sec <= now - window then redis.call('HDEL', KEYS[1], f)
    elseif sec <= now then total = total + tonumber(flat[i + 1]) end
  end
end
redis.call('EXPIRE', KEYS[1], window * 2 + 60)
return total
"""


def text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def state_key(sku: str, prefix: str = "notifier") -> str:
    return f"{prefix}:{{{sku}}}:state"


@dataclass
class SkuStates:
    redis: Redis
    prefix: str = "notifier"

    def __post_init__(self) -> None:
        self._done = self.redis.register_script(MARK_DONE)
        self._load_many = self.redis.register_script(LOAD_MANY)
        self._commit_many = self.redis.register_script(COMMIT_MANY)
        self.cluster = is_cluster(self.redis)

    async def load(self, sku: str) -> SkuState:
        return (await self.load_many([sku]))[sku]

    async def load_many(self, skus: Iterable[str]) -> dict[str, SkuState]:
        """The states of ``skus`` in one round trip (a fresh state if none)."""
        skus = list(skus)
        raw: list[Any] = []
        if self.cluster:
            async with self.redis.pipeline(transaction=False) as pipe:
                for sku in skus:
                    pipe.hmget(state_key(sku, self.prefix), ["s", "done"])
                raw = await pipe.execute()
        else:
            calls = merged_calls([([state_key(sku, self.prefix)], []) for sku in skus], MANY_MOST)
            for reply in await run_script_many(self.redis, self._load_many, calls):
                raw += reply
        states = {}
        for sku, (doc, done) in zip(skus, raw, strict=True):
            state = SkuState.model_validate_json(doc) if doc else SkuState()
            state.done = int(done) if done else 0
            states[sku] = state
        return states

    async def commit_many(self, commits: Sequence[Commit]) -> list[bool]:
        """Store each state if its stored version is still the expected one (one script call
        on one Redis, one per SKU on a Redis Cluster; one round trip); ``done`` when a
        decision has no effects left to carry out."""
        calls = [
            (
                [state_key(c.sku, self.prefix)],
                [
                    c.expected_version,
                    c.state.version,
                    c.state.model_dump_json(exclude={"done"}),
                    "1" if c.done else "0",
                ],
            )
            for c in commits
        ]
        together = calls if self.cluster else merged_calls(calls, MANY_MOST)
        replies = await run_script_many(self.redis, self._commit_many, together)
        return [bool(r) for reply in replies for r in reply]

    async def mark_done_many(self, done: Sequence[tuple[str, int]]) -> None:
        """Record each (sku, version) as carried out, if still the decided version."""
        calls = [([state_key(sku, self.prefix)], [version]) for sku, version in done]
        await run_script_many(self.redis, self._done, calls)


@dataclass(frozen=True)
class Commit:
    sku: str
    expected_version: int
    state: SkuState
    done: bool


@dataclass
class VelocityWindow:
    """Units sold per SKU over a sliding window of whole seconds (see decision 0006)."""

    redis: Redis
    window_s: int = 60
    prefix: str = "notifier"

    def __post_init__(self) -> None:
        self._script = self.redis.register_script(VELOCITY)

    async def record(self, sku: str, version: int, at_s: int, units: int) -> int:
        return (await self.record_many([(sku, version, at_s, units)]))[0]

    async def record_many(self, sales: Sequence[tuple[str, int, int, int]]) -> list[int]:
        """``record`` for each (sku, version, at_s, units) in order, in one round trip."""
        calls = [
            ([f"{self.prefix}:{{{sku}}}:velocity"], [version, at_s, units, self.window_s])
            for sku, version, at_s, units in sales
        ]
        return [int(total) for total in await run_script_many(self.redis, self._script, calls)]
