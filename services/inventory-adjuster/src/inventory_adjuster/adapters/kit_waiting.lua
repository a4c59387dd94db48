-- A kit's waiting list (docs/decisions/0037-kit-lines-wait-and-route-fulfillment-pages.md),
-- prepended to kit.lua and kit_record.lua: both end a kit command in the kit's own hash slot,
-- where its list inv:{kit}:waiting lives, so the list changes atomically with the kit's
-- stored result.
--
-- A refused reserve of an order line (`queue`: its entry JSON, as apply.lua's ARGV[15]
-- without a route) is queued, stamped with the time ("t"), in order of arrival; at most
-- KIT_WAITING_MAX entries (beyond, a refusal is final, as for a plain SKU). A reserve that
-- serves a waiting entry (`served`: the entry exactly as the list holds it) takes it off
-- when applied; when refused (stock raced away since it was looked at) the entry stays where
-- it is with its attempt count "n" one higher, so the next attempt has a key of its own.
-- Returns whether the command was queued.
local KIT_WAITING_MAX = 10000

local function kit_waiting(status, key, queue, served)
  if served ~= '' then
    if status == 'applied' then
      redis.call('LREM', key, 1, served)
    else
      local i = redis.call('LPOS', key, served)
      if i then
        local e = cjson.decode(served)
        e['n'] = (tonumber(e['n']) or 0) + 1
        redis.call('LSET', key, i, cjson.encode(e))
      end
    end
    return false
  end
  if status ~= 'rejected' or queue == '' then return false end
  if redis.call('LLEN', key) >= KIT_WAITING_MAX then return false end
  local e = cjson.decode(queue)
  local t = redis.call('TIME')
  e['t'] = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('RPUSH', key, cjson.encode(e))
  return true
end

