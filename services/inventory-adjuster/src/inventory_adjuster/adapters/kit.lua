-- Apply one command to a kit (bundle) SKU: its components move together, atomically.
-- A kit holds no stock of its own; reserving q kits reserves q * units of every component,
-- all or nothing. Runs on one Redis node (the keys span several SKUs' hash slots): on a
-- Redis Cluster KitStore applies the command in one-slot phases instead (kit_part.lua,
-- kit_record.lua; docs/decisions/0034-kits-on-redis-cluster.md). The consumed offset is not
-- written here (ADR 0029).
--
-- KEYS[1] kit state hash   inv:{kit}          ("kit" = components JSON, "version")
-- KEYS[2] idempotency      inv:{kit}:idem:<key>
-- KEYS[3] kit ledger       inv:{kit}:ledger
-- KEYS[4..] per component, in the order of ARGV[9]: state hash, ledger, and the component's
--           idempotency marker inv:{component}:idem:<key>:component:<component>
-- ARGV: 1 command (reserve|release|commit), 2 location, 3 kit quantity, 4 idempotency key,
--       5 ttl (s), 6 offset field ("" none), 7 offset, 8 ledger max length,
--       9 components JSON as the caller read it: [[sku, units], ...], 10 the ordering shop
--       ("" none: also a reserve serving a waiting entry, whose refusal counted already),
--       11 the waiting entry a refused reserve of an order line queues ("" none), 12 the
--       waiting entry this reserve serves ("" none); see kit_waiting.lua, 13 the stores JSON
--       list and 14 the default allocation JSON (apply.lua's 12 and 13; "" none), 15 the kit
--       SKU: each component moved gets its channel-allocation shares recomputed (alloc.lua,
--       prepended; docs/decisions/0040-kit-allocation.md), returned with its change
-- KEYS[4 + 3 * #components] the kit's waiting list inv:{kit}:waiting
-- KEYS[5 + 3 * #components] the kit's own marker inv:{kit}:idem:<key>:own (a rebuild sets it
--           when the kit's restored hash already holds this command's seen and version)
-- KEYS[6 + 3 * #components] the order line's kit hold inv:{kit}:hold:<shop>:<order>:<line>
--           (kits per location; written by routed commands only)
-- ARGV 16: the route JSON ({"locations": [...], ...}; "" none), 17: the hold's TTL (s)
--
-- ROUTING (issue #23; docs/order-routing.md "Kits"). A routed reserve takes the whole kit
-- line at the first location of the route where every component covers it (a component
-- under the backorder policy always does); none does and the route allows splits: whole kits
-- at each location of the route in order, as many as every component covers there, until
-- the line is covered (as apply.lua splits a plain line by units); else refused (it waits
-- with its route), having tried every location. What the line holds is kept per location in
-- its kit hold; a routed release or commit moves the kits where the line holds them (a
-- commit: its command's location first if it holds there; a release: from the route's end):
-- the first of those holding the whole quantity alone, else across them in order
-- (kit_hold.lua's kit_take). A line holding nothing (reserved before routing chose kit
-- locations) is moved at its command's location, as before. Every location moves in this
-- one script. The result says where (`location`: the first; `allocations`: {location,
-- kits, held} per location, in order; each component's change names its `location`), the
-- route `tried` (a reserve) and how the hold moved (`held`: + kits reserved, - kits
-- released or committed, in total; 0 none).
--
-- "seen|<location>|<shop>" on the kit's hash counts the kits a shop's orders reserved there
-- (refused ones included, as apply.lua counts a plain SKU's): published with the kit's
-- availability, it tells shopify-sync which of a store's kit sales truth has applied.
-- "pos" on the kit's hash, as apply.lua keeps it, is the position of the last command on the
-- kit SKU (kit commands included): the kit's levels record after a kit command carries it, so
-- a rebuild knows which kit commands the kit's seen counters and version include.
--
-- Rebuild support (docs/decisions/0008-kits-and-rebuild.md): a component whose marker exists
-- already holds this command's move and is skipped (a rebuild marks the components whose
-- restored levels cover the command); every component evaluated gets "kitoff|<partition>" =
-- the highest kit-command offset of that commands partition it has seen, so its levels say
-- which kit commands they include.

local function level(key, loc)
  local v = redis.call('HMGET', key, loc .. '|on_hand', loc .. '|reserved',
    loc .. '|safety_stock', 'version', 'policy')
  local l = {on_hand = tonumber(v[1] or '0'), reserved = tonumber(v[2] or '0'),
    safety_stock = tonumber(v[3] or '0')}
  l.available = l.on_hand - l.reserved - l.safety_stock
  return l, tonumber(v[4] or '0'), v[5] or 'reject'
end

local prior = redis.call('GET', KEYS[2])
if prior then
  return {'duplicate', prior}
end

local cmd, loc, qty = ARGV[1], ARGV[2], tonumber(ARGV[3])  -- loc: routing may move it
if qty == nil or qty ~= math.floor(qty) or qty < 0 then
  return redis.error_reply('POISON kit quantity must be a non-negative integer')
end
if cmd ~= 'reserve' and cmd ~= 'release' and cmd ~= 'commit' then
  return redis.error_reply('POISON ' .. cmd .. ' does not apply to a kit')
end
local comps = cjson.decode(ARGV[9])
local stored = redis.call('HGET', KEYS[1], 'kit')
if not stored then return redis.error_reply('RETRY not a kit any more') end
local defined = cjson.decode(stored)
local n_defined = 0
for _ in pairs(defined) do n_defined = n_defined + 1 end
if n_defined ~= #comps then return redis.error_reply('RETRY kit definition changed') end
for _, c in ipairs(comps) do
  if defined[c[1]] ~= c[2] then return redis.error_reply('RETRY kit definition changed') end
end

local skip = {}
for i in ipairs(comps) do skip[i] = redis.call('EXISTS', KEYS[3 + 3 * i]) == 1 end

-- the kits every component not already moved covers at `l` (nil: no bound, every one
-- skipped or under the backorder policy)
local function kits_at(l)
  local most = nil
  for i, c in ipairs(comps) do
    local lv, _, policy = level(KEYS[1 + 3 * i], l)
    if not skip[i] and policy == 'reject' then
      local k = math.max(0, math.floor(lv.available / c[2]))
      if most == nil or k < most then most = k end
    end
  end
  return most
end
local function covers(l, n)
  local k = kits_at(l)
  return k == nil or k >= n
end

-- where the command moves kits: {location, kits, hold move} per location, in order
local route = (ARGV[16] and ARGV[16] ~= '') and cjson.decode(ARGV[16]) or nil
local hold_key = KEYS[6 + 3 * #comps]
local tried, refused = cjson.null, false
local allocs = {{loc, qty, 0}}
if route and cmd == 'reserve' then
  tried = route['locations']
  local chosen = nil
  for _, l in ipairs(tried) do
    if covers(l, qty) then chosen = l; break end
  end
  if chosen then
    loc = chosen
    allocs = {{chosen, qty, qty}}
  elseif route['split'] then
    -- whole kits at each location of the route in order, as apply.lua splits units
    local parts, left = {}, qty
    for _, l in ipairs(tried) do
      if left == 0 then break end
      local k = kits_at(l)
      local n = (k == nil) and left or math.min(k, left)
      if n > 0 then parts[#parts + 1] = {l, n, n}; left = left - n end
    end
    if left == 0 then allocs = parts; loc = parts[1][1] else refused = true end
  else
    refused = true
  end
elseif route then
  local flat = redis.call('HGETALL', hold_key)
  local hold = {}
  for i = 1, #flat, 2 do hold[flat[i]] = tonumber(flat[i + 1]) end
  local parts = kit_take(hold, take_order(hold, route['locations'],
    cmd == 'commit' and loc or nil), qty)
  if #parts > 0 then
    allocs = parts
    loc = parts[1][1]
  end
end

-- validate every component not already moved (marker present) before any write
local status = refused and 'rejected' or 'applied'
if not refused and cmd == 'reserve' then
  for _, a in ipairs(allocs) do
    if not covers(a[1], a[2]) then status = 'rejected' end
  end
end
if status == 'rejected' then allocs = {{loc, qty, 0}} end

local stamp_partition = string.match(ARGV[6], ':(%d+)$')
local changes, skipped = {}, {}
for i, c in ipairs(comps) do
  local state, ledger = KEYS[1 + 3 * i], KEYS[2 + 3 * i]
  if stamp_partition then
    local field = 'kitoff|' .. stamp_partition
    local cur = tonumber(redis.call('HGET', state, field) or '-1')
    if tonumber(ARGV[7]) > cur then redis.call('HSET', state, field, ARGV[7]) end
  end
  if skip[i] then
    skipped[#skipped + 1] = c[1]
  else
    local mine, version = {}, nil
    for _, a in ipairs(allocs) do
      local at, units = a[1], c[2] * a[2]
      local b, v = level(state, at)
      local oh, rs = b.on_hand, b.reserved
      if status == 'applied' then
        if cmd == 'reserve' then rs = rs + units
        elseif cmd == 'release' then rs = math.max(0, rs - units)
        else oh = oh - units; rs = math.max(0, rs - units) end
        redis.call('HSET', state, at .. '|on_hand', oh, at .. '|reserved', rs,
          at .. '|safety_stock', b.safety_stock)
        v = redis.call('HINCRBY', state, 'version', 1)
        redis.call('XADD', ledger, 'MAXLEN', '~', tonumber(ARGV[8]), '*',
          'command', cmd, 'key', ARGV[4] .. ':component:' .. c[1], 'location', at,
          'quantity', units, 'status', status, 'version', v,
          'd_on_hand', oh - b.on_hand, 'd_reserved', rs - b.reserved, 'kit', ARGV[4])
      end
      version = v
      local after = {on_hand = oh, reserved = rs, safety_stock = b.safety_stock}
      after.available = after.on_hand - after.reserved - after.safety_stock
      mine[#mine + 1] = {sku = c[1], units = units, version = v, before = b, after = after,
        location = at}
    end
    if status == 'applied' then
      redis.call('SET', KEYS[3 + 3 * i], cjson.encode({status = status, kit = ARGV[4],
        version = version}), 'EX', tonumber(ARGV[5]))
    end
    local applied = status == 'applied'
    local units = c[2] * qty
    local sold = (applied and cmd == 'reserve') and units or 0
    local asked = cmd == 'reserve' and units or 0
    local shares, kit_parts = alloc_after_kit(state, ARGV[15] or '', ARGV[10] or '', sold,
      asked, ARGV[13], ARGV[14], applied)
    for _, m in ipairs(mine) do
      m.shares, m.kit_parts = shares, kit_parts
      changes[#changes + 1] = m
    end
  end
end

local kit_version = kit_own(KEYS[1], KEYS[5 + 3 * #comps], status, cmd, loc, qty,
  ARGV[10] or '', stamp_partition, ARGV[7])
local waiting = kit_waiting(status, KEYS[4 + 3 * #comps], ARGV[11] or '', ARGV[12] or '')
local held, placed = 0, {}
for _, a in ipairs(allocs) do
  placed[#placed + 1] = {location = a[1], kits = a[2], held = a[3]}
  if route and status == 'applied' then
    held = held + a[3]
    kit_hold_move(hold_key, a[1], a[3], tonumber(ARGV[17] or '0'))
  end
end
if not (route and status == 'applied') then
  for _, p in ipairs(placed) do p.held = 0 end
end
local result = cjson.encode({status = status, command = cmd, location = loc, quantity = qty,
  version = kit_version, components = changes, waiting = waiting,
  skipped = #skipped > 0 and skipped or cjson.null, tried = tried, held = held,
  allocations = placed})
redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[5]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
  'command', cmd, 'key', ARGV[4], 'location', loc, 'quantity', qty, 'status', status,
  'version', kit_version, 'd_on_hand', 0, 'd_reserved', 0)
return {status, result}
