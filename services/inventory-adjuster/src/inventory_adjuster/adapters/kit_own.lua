-- The kit's own share of a kit command, prepended to kit.lua and kit_record.lua (both end a
-- kit command in the kit's own hash slot): the shop's "seen|<location>|<shop>" counter moved
-- by a reserve of its order (refused ones included), the kit's version bumped when applied,
-- and "pos" = "<partition>:<offset>" of the command, grown as apply.lua grows it. A rebuild
-- whose restored kit hash already holds this command (docs/decisions/0008-kits-and-rebuild.md)
-- sets the kit's own marker, and the share is skipped. Returns the kit's version.
local function kit_own(state, marker, status, cmd, loc, qty, shop, partition, offset)
  if redis.call('EXISTS', marker) == 1 then
    return tonumber(redis.call('HGET', state, 'version') or '0')
  end
  if cmd == 'reserve' and shop ~= '' and qty > 0 then
    redis.call('HINCRBY', state, 'seen|' .. loc .. '|' .. shop, qty)
  end
  if partition then
    local cp, co = string.match(redis.call('HGET', state, 'pos') or '', '^(%d+):(%d+)$')
    if cp ~= partition or tonumber(offset) > tonumber(co) then
      redis.call('HSET', state, 'pos', partition .. ':' .. offset)
    end
  end
  return redis.call('HINCRBY', state, 'version', status == 'applied' and 1 or 0)
end

