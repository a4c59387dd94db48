-- Delete from one SKU's ledger the entries of commands a rebuild is about to replay
-- (docs/decisions/0008-kits-and-rebuild.md, "A rebuild run twice"): entries whose "key", or
-- whose "served_by" (a waiting line the command served), is one of ARGV. The replay writes
-- them again, so the ledger holds each replayed command once; otherwise a count with a time
-- (apply.lua's moved_since) would add a replayed move once per run.
--
-- KEYS[1] ledger   inv:{sku}:ledger
-- ARGV           the idempotency keys (a kit's component keys and their undo keys too)
-- Returns the number of entries deleted.

local replayed = {}
for _, key in ipairs(ARGV) do replayed[key] = true end
local start, deleted = '-', 0
while true do
  local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 1000)
  if #entries == 0 then break end
  local ids = {}
  for _, entry in ipairs(entries) do
    local f = entry[2]
    for i = 1, #f, 2 do
      if (f[i] == 'key' or f[i] == 'served_by') and replayed[f[i + 1]] then
        ids[#ids + 1] = entry[1]
        break
      end
    end
  end
  if #ids > 0 then deleted = deleted + redis.call('XDEL', KEYS[1], unpack(ids)) end
  if #entries < 1000 then break end
  start = '(' .. entries[#entries][1]
end
return deleted
