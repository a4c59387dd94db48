"""What a push round reads first, in one script call (``ports.RoundReads``).

A round read the shop's pending changes, then (one wait for both) the levels last seen and
the catalog entries of their items: two round trips in a row before its call could go, on a
lane whose next round waits for this one (docs/profiling.md, eighteenth session). The three
hashes share the shop's hash tag (``sync:pending``, ``sync:known``, ``sync:catalog`` of
``{<shop>}``), so one script reads them all, on one Redis or a Redis Cluster alike.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from shopify_sync.adapters.redis_catalog import catalog_key
from shopify_sync.adapters.redis_state import known_key, pending_key, text
from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.quantities import Known, Pending, key_of
from shopify_sync.ports import RoundRead

# KEYS: 1 pending, 2 known, 3 catalog. The pending hash flat, then the known value of each
# of its fields, its SKUs (field up to the last \31, as ``key_of`` splits it), and the
# catalog value of each SKU (false where there is none). HMGET in parts: Lua's unpack has
# a limit on its number of values.
READ_LUA = """
local flat = redis.call('HGETALL', KEYS[1])
local fields, skus, listed = {}, {}, {}
for i = 1, #flat, 2 do
  local f = flat[i]
  fields[#fields + 1] = f
  local sku = string.match(f, '^(.*)\\31') or f
  if not listed[sku] then
    listed[sku] = true
    skus[#skus + 1] = sku
  end
end
local function hmget(key, names)
  local out = {}
  for s = 1, #names, 1000 do
    local part = redis.call('HMGET', key, unpack(names, s, math.min(s + 999, #names)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
return {flat, hmget(KEYS[2], fields), skus, hmget(KEYS[3], skus)}
"""


class RedisRoundReads:
    def __init__(self, redis: Redis) -> None:
        self._read = redis.register_script(READ_LUA)

    async def pending_round(self, shop: str) -> RoundRead:
        keys = [pending_key(shop), known_key(shop), catalog_key(shop)]
        flat, known, skus, entries = await self._read(keys=keys)
        read = RoundRead({}, {}, {})
        fields = [key_of(text(f)) for f in flat[::2]]
        for key, raw, level in zip(fields, flat[1::2], known, strict=True):
            read.pending[key] = Pending.decode(text(raw))
            read.known[key] = Known.decode(_maybe(level))
        for sku, raw in zip(skus, entries, strict=True):
            if raw is not None:
                read.entries[text(sku)] = CatalogEntry.decode(text(sku), raw)
        return read


def _maybe(raw: Any) -> str | None:
    return None if raw is None else text(raw)
