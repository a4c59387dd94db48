-- A kit component's shares recomputed with no stock moved (prepended: alloc.lua), after the
-- kit's other components changed what they give the kit ("kithint|<kit>", written by
-- KitStore.keep_hints): the part of its budget a kit can no longer use goes back to its
-- direct share, or the part it can use now comes out of it
-- (docs/decisions/0040-kit-allocation.md). One slot: the component's.
--
-- KEYS[1] component state hash inv:{c}
-- ARGV: 1 stores JSON list, 2 default allocation JSON ("" none): apply.lua's 12 and 13;
--       3 "start" (optional): a SKU not allocated yet may start (a kit was just defined
--       over it: its own units may be few kits' worth, alloc.lua's threshold_of)
--
-- Only a SKU already allocated is looked at (or, with "start", one that is low now), and its
-- allocation is not ended here (that waits for its next command). When its direct shares
-- change, the new ones are kept and its version is bumped (a change of what the stores are
-- shown, so shopify-sync takes it as newer) and the new version answered; otherwise the parts
-- are kept and nil answered.

if ARGV[1] == '' then return nil end
local flat = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
if not h['shares'] and (ARGV[3] ~= 'start' or not h['version']) then return nil end
local default = nil
if ARGV[2] ~= '' then default = cjson.decode(ARGV[2]) end
local total = alloc_available(h)
local shares, kits = alloc_shares(h, total, cjson.decode(ARGV[1]), default)
if not shares then return nil end
local old = cjson.decode(h['shares'] or '{}')
local same = h['shares'] ~= nil
for shop, n in pairs(shares) do
  if tonumber(old[shop]) ~= n then same = false end
end
for shop in pairs(old) do
  if shares[shop] == nil then same = false end
end
alloc_keep(KEYS[1], h, shares, kits)
if same then return nil end
return redis.call('HINCRBY', KEYS[1], 'version', 1)
