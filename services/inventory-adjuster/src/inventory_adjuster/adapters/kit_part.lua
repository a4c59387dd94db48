-- One component's share of a kit command on a Redis Cluster, in the component's own hash
-- slot: the two-phase kit of docs/decisions/0034-kits-on-redis-cluster.md. kit.lua does the
-- same for every component at once on one Redis; here the caller runs, per component in
-- order, "hold" until one is refused, then "settle" on every component with the decision,
-- then kit_record.lua on the kit's slot. Every step is idempotent: a crash anywhere re-reads
-- the kit command and each step returns what it did the first time.
--
-- KEYS[1] component state  inv:{c}
-- KEYS[2] component ledger inv:{c}:ledger
-- KEYS[3] its marker       inv:{c}:idem:<kit key>:component:<c>   (kit.lua's marker)
-- KEYS[4] its undo marker  inv:{c}:idem:<kit key>:component:<c>:undo
-- ARGV: 1 step (hold|settle), 2 command (reserve|release|commit), 3 location, 4 units (the
--       component's units x kit quantity), 5 kit idempotency key, 6 ttl (s), 7 offset field
--       ("" none), 8 offset, 9 ledger max length, 10 (settle) the decision: applied|rejected,
--       11 the component key "<kit key>:component:<c>" (KEYS[3] without its prefix), 12 the
--       stores JSON list and 13 the default allocation JSON (apply.lua's 12 and 13; "" none),
--       14 the kit SKU, 15 the ordering shop ("" none): a held or undone move recomputes the
--       component's channel-allocation shares (alloc.lua, prepended; ADR 0040), answered in
--       its document ("shares")
--
-- hold: a marker already there answers {"prior", marker} (held, refused, or "restored" by a
--   rebuild: the component's levels hold its share already). Otherwise a reserve the
--   component cannot cover (policy reject) is refused: marker {"status": "refused"}, no move.
--   Anything else moves the component as kit.lua does (version, ledger entry with the
--   component key), marker {"status": "held", ...}.
-- settle: stamps "kitoff|<partition>" (the levels now hold the component's final share; the
--   rebuild reads it, ADR 0008) and, when the decision is "rejected", gives back a held move
--   once (ledger entry "<component key>:undo", the undo marker). Answers the levels.

local function level(loc)
  local v = redis.call('HMGET', KEYS[1], loc .. '|on_hand', loc .. '|reserved',
    loc .. '|safety_stock', 'version', 'policy')
  local l = {on_hand = tonumber(v[1] or '0'), reserved = tonumber(v[2] or '0'),
    safety_stock = tonumber(v[3] or '0')}
  l.available = l.on_hand - l.reserved - l.safety_stock
  return l, tonumber(v[4] or '0'), v[5] or 'reject'
end

local function write(loc, b, oh, rs, key, cmd, status)
  redis.call('HSET', KEYS[1], loc .. '|on_hand', oh, loc .. '|reserved', rs,
    loc .. '|safety_stock', b.safety_stock)
  local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[9]), '*',
    'command', cmd, 'key', key, 'location', loc, 'quantity', ARGV[4], 'status', status,
    'version', version, 'd_on_hand', oh - b.on_hand, 'd_reserved', rs - b.reserved,
    'kit', ARGV[5])
  local a = {on_hand = oh, reserved = rs, safety_stock = b.safety_stock}
  a.available = a.on_hand - a.reserved - a.safety_stock
  return version, a
end

local step, cmd, loc, units = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ckey = ARGV[11]
local asked = cmd == 'reserve' and units or 0

local function reshare(sold, keep)
  return alloc_after_kit(KEYS[1], ARGV[14] or '', ARGV[15] or '', sold, asked, ARGV[12],
    ARGV[13], keep)
end

if step == 'hold' then
  local prior = redis.call('GET', KEYS[3])
  if prior then return {'prior', prior} end
  local b, v, policy = level(loc)
  if cmd == 'reserve' and policy == 'reject' and b.available < units then
    reshare(0, false)  -- the demand counts, refused or not
    local doc = cjson.encode({status = 'refused', kit = ARGV[5], version = v, before = b,
      after = b})
    redis.call('SET', KEYS[3], doc, 'EX', tonumber(ARGV[6]))
    return {'refused', doc}
  end
  local oh, rs = b.on_hand, b.reserved
  if cmd == 'reserve' then rs = rs + units
  elseif cmd == 'release' then rs = math.max(0, rs - units)
  else oh = oh - units; rs = math.max(0, rs - units) end
  local version, a = write(loc, b, oh, rs, ckey, cmd, 'applied')
  local shares, kit_parts = reshare(cmd == 'reserve' and units or 0, true)
  local doc = cjson.encode({status = 'held', kit = ARGV[5], version = version, before = b,
    after = a, shares = shares, kit_parts = kit_parts})
  redis.call('SET', KEYS[3], doc, 'EX', tonumber(ARGV[6]))
  return {'held', doc}
end

if step ~= 'settle' then return redis.error_reply('ERR kit_part.lua: unknown step ' .. step) end
local p = string.match(ARGV[7], ':(%d+)$')
if p then
  local field = 'kitoff|' .. p
  local cur = tonumber(redis.call('HGET', KEYS[1], field) or '-1')
  if tonumber(ARGV[8]) > cur then redis.call('HSET', KEYS[1], field, ARGV[8]) end
end
local b, v = level(loc)
if ARGV[10] == 'rejected' and redis.call('EXISTS', KEYS[4]) == 0 then
  local marker = redis.call('GET', KEYS[3])
  local held = marker and cjson.decode(marker)
  if held and held.status == 'held' then
    -- give back exactly what the hold moved (only a reserve can be refused, so a held move of
    -- a rejected kit is a reserve)
    local d_rs = held.after.reserved - held.before.reserved
    local d_oh = held.after.on_hand - held.before.on_hand
    local version, a = write(loc, b, b.on_hand - d_oh, math.max(0, b.reserved - d_rs),
      ckey .. ':undo', cmd, 'undone')
    asked = 0  -- counted at the hold
    reshare(-d_rs, true)  -- the sale through the kit the hold counted did not happen
    redis.call('SET', KEYS[4], cjson.encode({status = 'undone', version = version}), 'EX',
      tonumber(ARGV[6]))
    return {'undone', cjson.encode({version = version, before = a, after = a})}
  end
end
return {'settled', cjson.encode({version = v, before = b, after = b})}
