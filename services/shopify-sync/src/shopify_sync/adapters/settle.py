"""A round's records after a write, in one script call on one Redis (``ports.Settler``).

After each applied write the writer recorded, in this order, what the store can sell
(``sync:exposure:{<sku>}``), then the levels written with their pending entries and the
write's intent (``sync:known``, ``sync:stamp``, ``sync:pending``, ``sync:intent`` of the
shop): two waits, three commands, each one a round trip the lane's next round waited behind
(docs/profiling.md, eighteenth session). :class:`RedisSettler` does it all in one script
call, in the same order (exposures first): Redis runs a script without interleaving another
client's commands, and a call lost with its connection ran whole or not at all. What it
leaves after any failure is what the two waits left: never an intent or a pending entry
gone whose exposure was not recorded.

The script touches the exposure hashes of several SKUs beside the shop's keys: one Redis
only. On a Redis Cluster those are slots of their own, and the writer keeps its two waits
(``bootstrap`` passes no settler there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from shopify_sync.adapters.exposures import CachedExposures, exposure_field, exposure_key
from shopify_sync.adapters.intents import intents_key
from shopify_sync.adapters.redis_state import (
    APPLY_ONE,
    OBSERVE_ONE,
    VERSION_OF,
    known_key,
    pending_key,
    seq_key,
    stamp_key,
)
from shopify_sync.domain.quantities import Exposure, ItemKey, Pending, field_of

# KEYS: 1 pending, 2 known, 3 stamp, 4 seq, 5 intents, then one exposure hash per exposure.
# ARGV: 1-3 the counts of exposures, applied and observed; then per exposure its field and
# value, per applied level its field, pending entry, version and level, per observed level
# its field and level; then the intents to drop.
SETTLE_LUA = (
    VERSION_OF
    + APPLY_ONE
    + OBSERVE_ONE
    + """
local ne, na, no = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local i = 4
for k = 1, ne do
  redis.call('HSET', KEYS[5 + k], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local seq = nil
if na + no > 0 then seq = redis.call('INCR', KEYS[4]) end
for _ = 1, na do
  apply_one(KEYS[1], KEYS[2], KEYS[3], seq, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  i = i + 4
end
for _ = 1, no do
  observe_one(KEYS[2], KEYS[3], nil, seq, ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then redis.call('HDEL', KEYS[5], unpack(ARGV, i, #ARGV)) end
return 1
"""
)
SETTLE_MOST = 500  # items per script call (a write carries at most 250)


class RedisSettler:
    def __init__(self, redis: Redis, cache: CachedExposures | None = None) -> None:
        self._settle = redis.register_script(SETTLE_LUA)
        self.cache = cache

    async def settle(
        self,
        shop: str,
        exposures: Mapping[ItemKey, Exposure],
        applied: Mapping[ItemKey, tuple[Pending, int]],
        observed: Mapping[ItemKey, int | None],
        intents: Sequence[str],
    ) -> None:
        items = list(dict.fromkeys([*exposures, *applied, *observed]))
        parts = [items[i : i + SETTLE_MOST] for i in range(0, len(items), SETTLE_MOST)] or [[]]
        try:
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                await self._call(shop, part, exposures, applied, observed, intents if last else ())
        except BaseException:
            if self.cache is not None:
                self.cache.forget(shop)  # Redis may or may not hold them: read it again
            raise
        if self.cache is not None:
            self.cache.remember(shop, exposures)

    async def _call(
        self,
        shop: str,
        part: Sequence[ItemKey],
        exposures: Mapping[ItemKey, Exposure],
        applied: Mapping[ItemKey, tuple[Pending, int]],
        observed: Mapping[ItemKey, int | None],
        intents: Sequence[str],
    ) -> None:
        keys = [pending_key(shop), known_key(shop), stamp_key(shop), seq_key(shop)]
        keys.append(intents_key(shop))
        shown = [(k, exposures[k]) for k in part if k in exposures]
        done = [(k, applied[k]) for k in part if k in applied]
        seen = [(k, observed[k]) for k in part if k in observed]
        if not (shown or done or seen or intents):
            return
        args: list[str | int] = [len(shown), len(done), len(seen)]
        for (sku, location), exposure in shown:
            keys.append(exposure_key(sku))
            args += [exposure_field(shop, location), exposure.encode()]
        for key, (p, level) in done:
            args += [field_of(key), p.encode(), str(p.version), str(level)]
        for key, seen_level in seen:
            args += [field_of(key), "" if seen_level is None else str(seen_level)]
        args += list(intents)
        await self._settle(keys=keys, args=args)
