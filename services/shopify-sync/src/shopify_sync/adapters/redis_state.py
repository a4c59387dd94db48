"""Pending changes and known levels per shop, in Redis (durable across restarts).

- ``sync:pending:{<shop>}``: hash ``<sku>\\x1f<location>`` -> ``Pending.encode()``
  (``<version>:<quantity>[:<available>:<shared>:<seen>]``), the latest quantity truth
  allows the store to show. Recording it is what lets the consumer
  commit its offsets: from then on the change survives a crash, an open circuit, a restart.
- ``sync:known:{<shop>}``: same fields -> ``<applied version>:<level>``, the truth version
  last applied to the store and the store's level as last seen (``changeFromQuantity``).
- ``sync:stamp:{<shop>}``: same fields -> the ``sync:seq:{<shop>}`` counter when a write
  last set the level. A read records its levels only where no write set one after the
  read began (``observed(since=...)``): a discovery that read a level of 0 before the
  first sync wrote 50 must not say 0 once its answer arrives.

Scripts make each step atomic per shop: recording keeps the newest version only and never
one older than what was applied; acknowledging drops a pending entry only if it is still
the one that was pushed (a newer change recorded meanwhile stays).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from shopify_sync.domain.quantities import ItemKey, Known, Pending, field_of, key_of
from stocksync_common.redis_client import run_script_many

CHUNK = 1000

VERSION_OF = """
local function version_of(raw)
  if not raw then return nil end
  return tonumber(string.match(raw, '^(-?%d+):'))
end
"""

RECORD_LUA = (
    VERSION_OF
    + """
local kept = 0
for i = 1, #ARGV, 3 do
  local f, v = ARGV[i], tonumber(ARGV[i + 1])
  local pv = version_of(redis.call('HGET', KEYS[1], f)) or -1
  local av = version_of(redis.call('HGET', KEYS[2], f)) or 0
  if v > pv and v >= av then
    redis.call('HSET', KEYS[1], f, ARGV[i + 2])
    kept = kept + 1
  end
end
return kept
"""
)

# A write the store applied, for field ``f``: its pending entry goes if it is still the one
# written (``p``), its level is recorded under the newer of the versions, stamped ``seq``.
# KEYS of the caller: pending, known, stamp.
APPLY_ONE = """
local function apply_one(kp, kk, ks, seq, f, p, version, level)
  if redis.call('HGET', kp, f) == p then redis.call('HDEL', kp, f) end
  local av = version_of(redis.call('HGET', kk, f)) or 0
  redis.call('HSET', kk, f, math.max(av, tonumber(version)) .. ':' .. level)
  redis.call('HSET', ks, f, seq)
end
"""

# A level seen (or set by a write when ``seq`` is given: it is stamped so), for field ``f``:
# recorded unless a write stamped it after the read began (``since``). KEYS: known, stamp.
OBSERVE_ONE = """
local function observe_one(kk, ks, since, seq, f, level)
  if not since or tonumber(redis.call('HGET', ks, f) or '0') <= since then
    local av = version_of(redis.call('HGET', kk, f)) or 0
    redis.call('HSET', kk, f, av .. ':' .. level)
    if seq then redis.call('HSET', ks, f, seq) end
  end
end
"""

APPLIED_LUA = (
    VERSION_OF
    + APPLY_ONE
    + """
local seq = redis.call('INCR', KEYS[4])
for i = 1, #ARGV, 4 do
  apply_one(KEYS[1], KEYS[2], KEYS[3], seq, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
return 1
"""
)

# ARGV[1]: the stamp the read began at, or '' for levels a write just set (stamped now).
OBSERVED_LUA = (
    VERSION_OF
    + OBSERVE_ONE
    + """
local since = tonumber(ARGV[1])
local seq = nil
if not since then seq = redis.call('INCR', KEYS[3]) end
for i = 2, #ARGV, 2 do observe_one(KEYS[1], KEYS[2], since, seq, ARGV[i], ARGV[i + 1]) end
return 1
"""
)

DISCARD_LUA = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
"""


def pending_key(shop: str) -> str:
    return f"sync:pending:{{{shop}}}"


def known_key(shop: str) -> str:
    return f"sync:known:{{{shop}}}"


def stamp_key(shop: str) -> str:
    return f"sync:stamp:{{{shop}}}"


def seq_key(shop: str) -> str:
    return f"sync:seq:{{{shop}}}"


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _chunks(args: Sequence[str], width: int) -> Iterable[Sequence[str]]:
    step = CHUNK * width
    for start in range(0, len(args), step):
        yield args[start : start + step]


class RedisSyncState:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._record = redis.register_script(RECORD_LUA)
        self._applied = redis.register_script(APPLIED_LUA)
        self._observed = redis.register_script(OBSERVED_LUA)
        self._discard = redis.register_script(DISCARD_LUA)

    async def record(self, shop: str, entries: Mapping[ItemKey, Pending]) -> int:
        return (await self.record_many({shop: entries}))[shop]

    async def record_many(self, entries: Mapping[str, Mapping[ItemKey, Pending]]) -> dict[str, int]:
        """:meth:`record` for every shop of one fetch of changes in one pipelined round trip
        (a script call per shop and chunk); a single call goes without a pipeline."""
        calls: list[tuple[list[str], Sequence[str]]] = []
        shops: list[str] = []
        for shop, mine in entries.items():
            args: list[str] = []
            for key, p in mine.items():
                args += [field_of(key), str(p.version), p.encode()]
            for part in _chunks(args, 3):
                calls.append(([pending_key(shop), known_key(shop)], part))
                shops.append(shop)
        if len(calls) == 1:
            [(keys, part)] = calls
            replies = [await self._record(keys=keys, args=part)]
        else:
            replies = await run_script_many(self.redis, self._record, calls)
        kept = dict.fromkeys(entries, 0)
        for shop, reply in zip(shops, replies, strict=True):
            kept[shop] += int(reply)
        return kept

    async def pending(self, shop: str) -> dict[ItemKey, Pending]:
        raw: dict[Any, Any] = await self.redis.hgetall(pending_key(shop))
        return {key_of(text(f)): Pending.decode(text(v)) for f, v in raw.items()}

    async def pending_count(self, shop: str) -> int:
        return int(await self.redis.hlen(pending_key(shop)))

    async def pending_of(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Pending]:
        ordered = list(keys)
        values = await self.redis.hmget(pending_key(shop), [field_of(k) for k in ordered])
        pairs = zip(ordered, values, strict=True)
        return {k: Pending.decode(text(v)) for k, v in pairs if v is not None}

    async def known(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Known]:
        ordered = list(keys)
        out: dict[ItemKey, Known] = {}
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            values = await self.redis.hmget(known_key(shop), [field_of(k) for k in part])
            for key, raw in zip(part, values, strict=True):
                out[key] = Known.decode(text(raw) if raw is not None else None)
        return out

    async def applied(self, shop: str, done: Mapping[ItemKey, tuple[Pending, int]]) -> None:
        args: list[str] = []
        for key, (p, level) in done.items():
            args += [field_of(key), p.encode(), str(p.version), str(level)]
        for part in _chunks(args, 4):
            keys = [pending_key(shop), known_key(shop), stamp_key(shop), seq_key(shop)]
            await self._applied(keys=keys, args=part)

    async def observed(
        self, shop: str, levels: Mapping[ItemKey, int | None], since: int | None = None
    ) -> None:
        args: list[str] = []
        for key, level in levels.items():
            args += [field_of(key), "" if level is None else str(level)]
        keys = [known_key(shop), stamp_key(shop), seq_key(shop)]
        for part in _chunks(args, 2):
            await self._observed(keys=keys, args=["" if since is None else str(since), *part])

    async def stamp(self, shop: str) -> int:
        return int(await self.redis.get(seq_key(shop)) or 0)

    async def discard(self, shop: str, entries: Mapping[ItemKey, Pending]) -> None:
        args: list[str] = []
        for key, p in entries.items():
            args += [field_of(key), p.encode()]
        for part in _chunks(args, 2):
            await self._discard(keys=[pending_key(shop)], args=part)
