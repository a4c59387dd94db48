-- Apply one inventory command to one SKU, atomically.
-- KEYS[1] state hash   inv:{sku}            fields "<loc>|on_hand", "<loc>|reserved",
--                                           "<loc>|safety_stock", "version", "policy"
-- KEYS[2] idempotency  inv:{sku}:idem:<key> the stored result of the first application
-- KEYS[3] ledger       inv:{sku}:ledger     a stream, newest last
-- KEYS[4] offsets      offsets:{<group>}    consumed offset per "<topic>:<partition>"
-- ARGV: 1 command, 2 location, 3 quantity, 4 idempotency key, 5 idempotency ttl (s),
--       6 offset field ("" for none), 7 offset, 8 ledger max length, 9 now (ms)

local function record_offset()
  if ARGV[6] ~= '' then
    local off = tonumber(ARGV[7])
    local cur = tonumber(redis.call('HGET', KEYS[4], ARGV[6]) or '-1')
    if off > cur then redis.call('HSET', KEYS[4], ARGV[6], off) end
  end
end

local function read_state()
  local flat = redis.call('HGETALL', KEYS[1])
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function levels_of(h)
  local locs, total = {}, 0
  for field, value in pairs(h) do
    local loc, part = string.match(field, '^(.+)|([%a_]+)$')
    if loc then
      locs[loc] = locs[loc] or {on_hand = 0, reserved = 0, safety_stock = 0}
      locs[loc][part] = tonumber(value)
    end
  end
  for _, l in pairs(locs) do
    l.available = l.on_hand - l.reserved - l.safety_stock
    total = total + l.available
  end
  return locs, total
end

local function at(h, loc)
  local function n(part) return tonumber(h[loc .. '|' .. part] or '0') end
  local l = {on_hand = n('on_hand'), reserved = n('reserved'), safety_stock = n('safety_stock')}
  l.available = l.on_hand - l.reserved - l.safety_stock
  return l
end

local prior = redis.call('GET', KEYS[2])
if prior then
  record_offset()
  local h = read_state()
  local locs, total = levels_of(h)
  return {'duplicate', prior, cjson.encode({
    version = tonumber(h['version'] or '0'), available = total, locations = locs})}
end

local cmd, loc, qty = ARGV[1], ARGV[2], tonumber(ARGV[3])
if qty == nil or qty ~= math.floor(qty) then
  return redis.error_reply('POISON quantity is not an integer')
end
if cmd ~= 'adjust' and qty < 0 then
  return redis.error_reply('POISON quantity must not be negative for ' .. cmd)
end

local h = read_state()
local _, total_before = levels_of(h)
local before = at(h, loc)
local oh, rs = before.on_hand, before.reserved
local status = 'applied'
local policy = h['policy'] or 'reject'

if cmd == 'reserve' then
  if policy == 'reject' and before.available < qty then
    status = 'rejected'
  else
    rs = rs + qty
  end
elseif cmd == 'release' then
  rs = math.max(0, rs - qty)
elseif cmd == 'commit' then
  oh = oh - qty
  rs = math.max(0, rs - qty)
elseif cmd == 'adjust' then
  oh = oh + qty
elseif cmd == 'set_on_hand' then
  oh = qty
else
  return redis.error_reply('POISON unknown command ' .. cmd)
end

local version = tonumber(h['version'] or '0')
if status == 'applied' then
  redis.call('HSET', KEYS[1], loc .. '|on_hand', oh, loc .. '|reserved', rs)
  if not h[loc .. '|safety_stock'] then redis.call('HSET', KEYS[1], loc .. '|safety_stock', 0) end
  version = redis.call('HINCRBY', KEYS[1], 'version', 1)
  h[loc .. '|on_hand'], h[loc .. '|reserved'] = oh, rs
  h[loc .. '|safety_stock'] = h[loc .. '|safety_stock'] or 0
end
local after = at(h, loc)
local locs, total_after = levels_of(h)

local result = cjson.encode({
  status = status, command = cmd, location = loc, quantity = qty, version = version,
  before = before, after = after,
  sku_available_before = total_before, sku_available_after = total_after,
})
redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[5]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
  'command', cmd, 'key', ARGV[4], 'location', loc, 'quantity', qty, 'status', status,
  'version', version, 'd_on_hand', after.on_hand - before.on_hand,
  'd_reserved', after.reserved - before.reserved, 'at', ARGV[9])
record_offset()
return {status, result, cjson.encode({version = version, available = total_after, locations = locs})}
