-- Replace one SKU's state hash with the fields a rebuild restores, atomically
-- (docs/decisions/0008-kits-and-rebuild.md, "A rebuild run twice").
--
-- Every field of the old hash goes, but the settings no levels record carries: "policy",
-- "alloc_threshold", "kit", "<loc>|count_as_of", "kitq|<kit>" (ADR 0040) and "repaired" are
-- kept unless a command the rebuild read states them again (ARGV names those; the restored
-- fields or the replay write them as of the record). A counter left from before (a
-- "seen|<loc>|<shop>" or a location the record lacks, written by a command the rebuild
-- replays again) would otherwise survive the restore and be moved a second time.
--
-- KEYS[1] state hash   inv:{sku}
-- ARGV[1] n: the number of setting fields restated; ARGV[2 .. n+1] their names;
-- ARGV[n+2 ..] field, value, field, value, ... : the restored fields (they win).
-- Returns the number of settings kept from the old hash.

local KEPT = {policy = true, alloc_threshold = true, kit = true, repaired = true}
local COUNT_AS_OF = '|count_as_of'
local KIT_UNITS = 'kitq|'  -- a component's units per kit (ADR 0040), written by KitStore.define

local function hset_all(list, first)
  local chunk = 1000  -- unpack() has a stack limit
  for i = first, #list, chunk do
    local last = math.min(i + chunk - 1, #list)
    redis.call('HSET', KEYS[1], unpack(list, i, last))
  end
end

local n = tonumber(ARGV[1])
local restated = {}
for i = 2, n + 1 do restated[ARGV[i]] = true end

local keep = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local f = flat[i]
  local setting = KEPT[f] or string.sub(f, -#COUNT_AS_OF) == COUNT_AS_OF
    or string.sub(f, 1, #KIT_UNITS) == KIT_UNITS
  if setting and not restated[f] then
    keep[#keep + 1] = f
    keep[#keep + 1] = flat[i + 1]
  end
end
redis.call('DEL', KEYS[1])
hset_all(keep, 1)
hset_all(ARGV, n + 2)
return #keep / 2
