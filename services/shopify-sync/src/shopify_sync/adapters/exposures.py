"""What each store could still sell per SKU, and the allocation gate.

:class:`RedisExposures` (the service's) keeps them in ``sync:exposure:{<sku>}``;
:class:`LocalExposures` keeps them in memory, for one process (the unit tests' rigs).

One hash per SKU, field ``<shop>\\x1f<location>`` -> ``<base>:<seen>``, or
``<base>:<seen>:<before>`` for a raise the gate granted that no answer has confirmed yet
(see ``domain.quantities.Exposure``). Every store's record of a SKU sits in one hash (one slot),
so the claim script can sum the other stores and record the raise atomically: two lanes
raising the same SKU at once never both spend the same room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from shopify_sync.domain.quantities import SEP, Exposure, ItemKey, Seen, grant
from shopify_sync.ports import Claim
from stocksync_common.redis_client import is_cluster, merged_calls, run_script_many

# The rule of domain.quantities.grant, atomically; the grant is recorded as a claim (the
# floor kept beside it) until the write's answer records the store's exposure.
# KEYS[1] the SKU's hash; ARGV: 1 field, 2 floor, 3 want, 4 seen, 5 available, 6 location,
# 7 counters "shop=n,..." ("-": unknown)
CLAIM_LUA = """
local known = ARGV[7] ~= '-'
local counters = {}
if known then
  for shop, n in string.gmatch(ARGV[7], '([^,=]+)=(-?%d+)') do counters[shop] = tonumber(n) end
end
local held = 0
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  if flat[i] ~= ARGV[1] then
    local shop, loc = string.match(flat[i], '^(.*)\\31(.*)$')
    local base, seen = string.match(flat[i + 1], '^(-?%d+):(-?%d+)')
    local now = tonumber(base)
    if known and loc == ARGV[6] then
      now = now - ((counters[shop] or 0) - tonumber(seen))
    end
    held = held + math.max(0, now)
  end
end
local granted = math.min(tonumber(ARGV[3]), math.max(tonumber(ARGV[2]), tonumber(ARGV[5]) - held))
redis.call('HSET', KEYS[1], ARGV[1], granted .. ':' .. ARGV[4] .. ':' .. ARGV[2])
return granted
"""


# Each (hash, field, value) of ARGV/KEYS written, in one call: a push round records the
# exposure of every item it wrote. A pipeline of one HSET per item cost the client 17-21 µs of
# CPU per item, this script 4-7 (docs/profiling.md, sixteenth session). One Redis only: on a
# Redis Cluster each SKU's hash is a slot of its own, so those stay one HSET each, pipelined.
PUT_LUA = """
for i = 1, #KEYS do redis.call('HSET', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]) end
return #KEYS
"""
PUT_MOST = 1000  # items per script call: a call holds Redis for its whole run


def exposure_key(sku: str) -> str:
    return f"sync:exposure:{{{sku}}}"


def exposure_field(shop: str, location: str) -> str:
    return f"{shop}{SEP}{location}"


def _counters(seen: Seen | None) -> str:
    return "-" if seen is None else ",".join(f"{shop}={n}" for shop, n in seen)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisExposures:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(CLAIM_LUA)
        self._put = redis.register_script(PUT_LUA)
        self.cluster = is_cluster(redis)

    async def of(self, shop: str, keys: Sequence[ItemKey]) -> dict[ItemKey, Exposure]:
        if not keys:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for sku, location in keys:
            pipe.hget(exposure_key(sku), exposure_field(shop, location))
        raw = await pipe.execute()
        return {k: Exposure.decode(_text(v)) for k, v in zip(keys, raw, strict=True) if v}

    async def put(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        if not entries:
            return
        if self.cluster:
            pipe = self.redis.pipeline(transaction=False)
            for (sku, location), exposure in entries.items():
                pipe.hset(exposure_key(sku), exposure_field(shop, location), exposure.encode())
            await pipe.execute()
            return
        calls = [
            ([exposure_key(sku)], [exposure_field(shop, location), exposure.encode()])
            for (sku, location), exposure in entries.items()
        ]
        await run_script_many(self.redis, self._put, merged_calls(calls, PUT_MOST))

    async def claim(self, shop: str, claims: Sequence[Claim]) -> list[int]:
        if not claims:
            return []
        calls = []
        for c in claims:
            sku, location = c.key
            args: list[str | int] = [
                exposure_field(shop, location), c.floor, c.want, c.seen,
                c.pending.available if c.pending.available is not None else c.floor,
                location, _counters(c.pending.seen),
            ]  # fmt: skip
            calls.append(([exposure_key(sku)], args))
        return [int(x) for x in await run_script_many(self.redis, self._claim, calls)]


class CachedExposures:
    """Each store's own exposures kept in memory in front of Redis (the durable copy).

    A push round reads the exposure of every item it writes: one Redis command per item,
    the largest slice of shopify-sync's Redis work under load (docs/profiling.md). A store's
    own field is written only by the replica holding that store's lane lease (``put`` and
    ``claim``, both through this object), so while the lease is held without a break what
    was written here is what Redis holds. The lease calls ``forget`` whenever holding was
    not continuous (taken afresh, or refused): the next round reads Redis again. Other
    stores' fields are never served from here (``claim`` reads them in its script).

    At most ``max_entries`` are kept; the oldest written go first (a miss only costs a read).
    """

    def __init__(self, inner: RedisExposures | LocalExposures, max_entries: int = 200_000):
        self.inner = inner
        self.max_entries = max_entries
        self._mine: dict[tuple[str, ItemKey], Exposure] = {}

    def forget(self, shop: str) -> None:
        self._mine = {k: e for k, e in self._mine.items() if k[0] != shop}

    def remember(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        """Exposures of ``shop`` written to Redis by another path (``adapters.settle``)."""
        self._keep(shop, entries)

    def _keep(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        for key, exposure in entries.items():
            self._mine.pop((shop, key), None)  # re-inserted last: the newest write
            self._mine[(shop, key)] = exposure
        while len(self._mine) > self.max_entries:
            del self._mine[next(iter(self._mine))]

    async def of(self, shop: str, keys: Sequence[ItemKey]) -> dict[ItemKey, Exposure]:
        out = {k: e for k in keys if (e := self._mine.get((shop, k))) is not None}
        missing = [k for k in keys if k not in out]
        if missing:
            read = await self.inner.of(shop, missing)
            self._keep(shop, read)
            out.update(read)
        return out

    async def put(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        try:
            await self.inner.put(shop, entries)
        except BaseException:
            self.forget(shop)  # Redis may or may not hold them: read it again
            raise
        self._keep(shop, entries)

    async def claim(self, shop: str, claims: Sequence[Claim]) -> list[int]:
        try:
            granted = await self.inner.claim(shop, claims)
        except BaseException:
            self.forget(shop)
            raise
        self._keep(
            shop,
            {c.key: Exposure(g, c.seen, c.floor) for c, g in zip(claims, granted, strict=True)},
        )
        return granted


class LocalExposures:
    """The same records and gate in memory (one process: nothing else raises concurrently)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[tuple[str, str], Exposure]] = {}

    async def of(self, shop: str, keys: Sequence[ItemKey]) -> dict[ItemKey, Exposure]:
        out: dict[ItemKey, Exposure] = {}
        for sku, location in keys:
            found = self.records.get(sku, {}).get((shop, location))
            if found is not None:
                out[(sku, location)] = found
        return out

    async def put(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None:
        for (sku, location), exposure in entries.items():
            self.records.setdefault(sku, {})[(shop, location)] = exposure

    async def claim(self, shop: str, claims: Sequence[Claim]) -> list[int]:
        out: list[int] = []
        for c in claims:
            sku, location = c.key
            mine = self.records.setdefault(sku, {})
            others = {k: e for k, e in mine.items() if k != (shop, location)}
            available = c.pending.available if c.pending.available is not None else c.floor
            granted = grant(c.floor, c.want, available, others, c.pending.seen, location)
            mine[(shop, location)] = Exposure(granted, c.seen, c.floor)
            out.append(granted)
        return out
