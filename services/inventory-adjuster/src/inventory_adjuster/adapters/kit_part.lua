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
--       its document ("shares"), 16 the moves JSON [[location, units], ...] of a command
--       moving the component at several locations (a routed kit line split by whole kits, or
--       released where its kits are held; issue #23), "" none: ARGV[3] and ARGV[4] alone
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

local function write(loc, b, oh, rs, key, cmd, status, qty)
  redis.call('HSET', KEYS[1], loc .. '|on_hand', oh, loc .. '|reserved', rs,
    loc .. '|safety_stock', b.safety_stock)
  local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[9]), '*',
    'command', cmd, 'key', key, 'location', loc, 'quantity', qty or ARGV[4], 'status', status,
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

local moves = {{loc, units}}
if ARGV[16] and ARGV[16] ~= '' then moves = cjson.decode(ARGV[16]) end

if step == 'hold' then
  local prior = redis.call('GET', KEYS[3])
  if prior then return {'prior', prior} end
  local b, v, policy = level(loc)
  if cmd == 'reserve' and policy == 'reject' then
    for _, m in ipairs(moves) do
      if level(m[1]).available < m[2] then
        reshare(0, false)  -- the demand counts, refused or not
        local doc = cjson.encode({status = 'refused', kit = ARGV[5], version = v, before = b,
          after = b})
        redis.call('SET', KEYS[3], doc, 'EX', tonumber(ARGV[6]))
        return {'refused', doc}
      end
    end
  end
  -- every location at once, in this one slot: one marker for the component's whole share
  local done, version, first_after = {}, v, nil
  for _, m in ipairs(moves) do
    local at, n = m[1], m[2]
    local mb = level(at)
    local oh, rs = mb.on_hand, mb.reserved
    if cmd == 'reserve' then rs = rs + n
    elseif cmd == 'release' then rs = math.max(0, rs - n)
    else oh = oh - n; rs = math.max(0, rs - n) end
    local a
    version, a = write(at, mb, oh, rs, ckey, cmd, 'applied', n)
    first_after = first_after or a
    done[#done + 1] = {location = at, units = n, version = version, before = mb, after = a}
  end
  local shares, kit_parts = reshare(cmd == 'reserve' and units or 0, true)
  local doc = cjson.encode({status = 'held', kit = ARGV[5], version = version, before = b,
    after = first_after, shares = shares, kit_parts = kit_parts, moves = done})
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
    -- give back exactly what the hold moved, at every location it moved (only a reserve can
    -- be refused, so a held move of a rejected kit is a reserve)
    local done = held.moves or {{location = loc, units = units, before = held.before,
      after = held.after}}
    local version, a, total = nil, nil, 0
    for _, m in ipairs(done) do
      local d_rs = m.after.reserved - m.before.reserved
      local d_oh = m.after.on_hand - m.before.on_hand
      local mb = level(m.location)
      local ma
      version, ma = write(m.location, mb, mb.on_hand - d_oh, math.max(0, mb.reserved - d_rs),
        ckey .. ':undo', cmd, 'undone', m.units)
      if m.location == loc then a = ma end
      total = total + d_rs
    end
    a = a or level(loc)
    asked = 0  -- counted at the hold
    reshare(-total, true)  -- the sale through the kit the hold counted did not happen
    redis.call('SET', KEYS[4], cjson.encode({status = 'undone', version = version}), 'EX',
      tonumber(ARGV[6]))
    return {'undone', cjson.encode({version = version, before = a, after = a})}
  end
end
return {'settled', cjson.encode({version = v, before = b, after = b})}
