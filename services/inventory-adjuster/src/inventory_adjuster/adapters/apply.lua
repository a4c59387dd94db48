-- Apply one inventory command to one SKU, atomically: idempotency check, validation before
-- any write, the change, the version bump, the ledger entry and the SKU's own position
-- ("pos"). Every key is the SKU's ({sku} hash tag): one hash slot, so the script runs on a
-- Redis Cluster; the group's consumed-offset hash is written by the caller, after the
-- script, as a separate write (docs/decisions/0029-redis-cluster.md).
--
-- KEYS[1] state hash   inv:{sku}   "<loc>|on_hand", "<loc>|reserved", "<loc>|safety_stock",
--                                  "<loc>|count_as_of", "version", "policy",
--                                  "alloc_threshold", "sold|<shop>", "kit",
--                                  "seen|<loc>|<shop>" (units of the shop's orders applied at
--                                  the location: its reserves, refused ones too; never less:
--                                  a release does not say whether the store's count came
--                                  back), "vel" and "vel_ms"
--                                  (recent units asked, decayed), "shares" (the last ones),
--                                  "kitoff|<partition>" (kit.lua; returned with the levels),
--                                  "pos" ("<partition>:<offset>" of the last command)
-- KEYS[2] idempotency  inv:{sku}:idem:<key>   the stored result of the first application
-- KEYS[3] ledger       inv:{sku}:ledger       a stream, newest last (id = apply time, ms)
-- KEYS[4] hold         inv:{sku}:hold:<shop>:<order>:<line>   (routed commands only) the
--                                  units the order line holds per location; expires
--                                  ARGV[17] seconds after the last command that wrote it
-- KEYS[5] waiting      inv:{sku}:waiting      refused order lines waiting for stock, oldest
--                                  first (a list of JSON entries; see WAITING LIST below)
-- KEYS[6] waited       inv:{sku}:waited       units re-reserved for waiting routed lines, per
--                                  line ("<shop>:<order>:<line>" -> JSON {"at": {location:
--                                  units}, "t": ms parked}; older values are {location:
--                                  units}), moved into the line's hold (KEYS[4]) by its next
--                                  routed command (a served line's hold key cannot be
--                                  declared); a field parked longer than ARGV[17] is swept
--                                  (see HOLD EXPIRY); "#cursor": the sweep's HSCAN cursor
-- KEYS[7] undone       inv:{sku}:idem:<key>   (an adjust that undoes a routed commit, else
--                                  unused) the stored result of the commit it undoes
-- ARGV: 1 command, 2 location, 3 quantity, 4 idempotency key, 5 idempotency ttl (s),
--       6 offset field ("" for none), 7 offset, 8 ledger max length, 9 as_of ms ("" none),
--       10 config JSON ("" none), 11 ordering shop ("" none), 12 stores JSON list ("" none),
--       13 default allocation JSON {"per_store", "velocity", "window_s"} ("" none: only SKUs
--          configured with an allocation threshold are allocated),
--       14 (routed commands only, else "") route JSON {"locations": [...], "split": bool}:
--          see place and routed_moves below (docs/decisions/0018-order-routing.md)
--       15 an order line's reserve: its waiting entry JSON {"key", "shop", "order_id",
--          "line_id", "location", "quantity", "route" (routed only)} ("" for any other
--          command); queued on KEYS[5] when the reserve is refused
--          (docs/decisions/0022-residual-order-edge-cases.md, 0031)
--       16 "1": an adjust that puts back what the commit of KEYS[7] took off on-hand, where
--          it took it (see undo_moves); "" for any other command
--       17 hold ttl (s): how long a hold (KEYS[4]) or a parked hold (KEYS[6]) outlives the
--          last command that wrote it ("" or absent: they never expire); see HOLD EXPIRY

local SALES_WEIGHT_CAP = 1000
-- the default allocation's settings, decoded once per call (nil: none)
local DEFAULT_ALLOCATION = nil
if ARGV[13] and ARGV[13] ~= '' then DEFAULT_ALLOCATION = cjson.decode(ARGV[13]) end

-- The "pos" this command gives the state hash `h` ("<partition>:<offset>" of the last
-- command on this SKU: levels published after a kit command moved it say which of its own
-- commands they include, for the rebuild), or nil when it has none or is not newer. `h` is
-- the script's HGETALL, so no HGET of "pos" (only this script writes it).
local function new_position(h)
  if ARGV[6] == '' then return nil end
  local p = string.match(ARGV[6], ':(%d+)$')
  if not p then return nil end
  local off = tonumber(ARGV[7])
  local cp, co = string.match(h['pos'] or '', '^(%d+):(%d+)$')
  if cp ~= p or off > tonumber(co) then return p .. ':' .. off end
  return nil
end

-- Only a state hash that exists is given a position (never a hash holding "pos" alone).
-- `exists`: true when the script wrote the hash (nil: ask Redis).
local function record_position(h, exists)
  local pos = new_position(h)
  if not pos then return end
  if exists == nil then exists = redis.call('EXISTS', KEYS[1]) == 1 end
  if exists then
    redis.call('HSET', KEYS[1], 'pos', pos)
    h['pos'] = pos
  end
end

local function read_state()
  local flat = redis.call('HGETALL', KEYS[1])
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local LEVEL_PARTS = {on_hand = true, reserved = true, safety_stock = true}

local function levels_of(h)
  local locs, total = {}, 0
  for field, value in pairs(h) do
    local loc, part = string.match(field, '^(.+)|([%a_]+)$')
    if loc and LEVEL_PARTS[part] then
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

-- "kitoff|<partition>" fields (written by kit.lua on a kit's components): the highest kit
-- command offset per commands partition these levels include; nil when none.
local function kit_offsets_of(h)
  local out, any = {}, false
  for field, value in pairs(h) do
    local p = string.match(field, '^kitoff|(%d+)$')
    if p then out[p] = tonumber(value); any = true end
  end
  if any then return out end
  return cjson.null
end

local function at(h, loc)
  local function n(part) return tonumber(h[loc .. '|' .. part] or '0') end
  local l = {on_hand = n('on_hand'), reserved = n('reserved'), safety_stock = n('safety_stock')}
  l.available = l.on_hand - l.reserved - l.safety_stock
  return l
end

-- alloc.lua (prepended) keeps the clock, the recent demand and the shares; these bind them
-- to this script's arguments.
local function note_demand(h, qty)
  alloc_note_demand(KEYS[1], h, qty, DEFAULT_ALLOCATION)
end

-- The SKU's published shares (its direct ones when it is a kit's component) and its kits'
-- parts (alloc.lua); nil when allocation is off or the SKU is not low.
local function shares_of(h, available)
  if ARGV[12] == '' then return nil, nil end
  return alloc_shares(h, available, cjson.decode(ARGV[12]), DEFAULT_ALLOCATION)
end

-- Units the new shares give stores over the last ones (what moved to them); 0 when
-- allocation only started or ended.
local function moved_units(h, shares)
  if not shares or not h['shares'] then return 0 end
  local prev = cjson.decode(h['shares'])
  local moved = 0
  for shop, n in pairs(shares) do
    moved = moved + math.max(0, n - (tonumber(prev[shop]) or 0))
  end
  return moved
end

-- A shop's own orders applied at a location, for shopify-sync to tell a store's unseen sales.
local function note_seen(h, loc, shop, qty)
  if shop == '' or qty == 0 then return end
  local field = 'seen|' .. loc .. '|' .. shop
  h[field] = tostring(redis.call('HINCRBY', KEYS[1], field, qty))
end

-- Both encode as {} when no shop has sold there yet: every counter is then 0.
local function seen_at(h, loc)
  local out = {}
  local prefix = 'seen|' .. loc .. '|'
  for field, value in pairs(h) do
    if string.sub(field, 1, #prefix) == prefix then
      out[string.sub(field, #prefix + 1)] = tonumber(value)
    end
  end
  return out
end

local function seen_all(h)
  local out = {}
  for field, value in pairs(h) do
    local loc, shop = string.match(field, '^seen|(.+)|([^|]+)$')
    if loc then
      out[loc] = out[loc] or {}
      out[loc][shop] = tonumber(value)
    end
  end
  return out
end

local function note_sale(h, shop, qty)
  if shop == '' then return end
  local field = 'sold|' .. shop
  local w = redis.call('HINCRBY', KEYS[1], field, qty)
  h[field] = tostring(w)
  local sum = 0
  for f, v in pairs(h) do
    if string.sub(f, 1, 5) == 'sold|' then sum = sum + tonumber(v) end
  end
  if sum > SALES_WEIGHT_CAP then  -- decay: recent sales count more than old ones
    for f, v in pairs(h) do
      if string.sub(f, 1, 5) == 'sold|' then
        h[f] = tostring(math.floor(tonumber(v) / 2))
        redis.call('HSET', KEYS[1], f, h[f])
      end
    end
  end
end

-- On-hand moves at `loc` applied after `as_of_ms` (other than counts), from the ledger.
local function moved_since(loc, as_of_ms)
  local moved = 0
  local entries = redis.call('XRANGE', KEYS[3], tostring(as_of_ms + 1), '+')
  for _, entry in ipairs(entries) do
    local f = {}
    for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
    if f['location'] == loc and f['command'] ~= 'set_on_hand' and f['status'] == 'applied' then
      moved = moved + tonumber(f['d_on_hand'])
    end
  end
  return moved
end

-- WAITING LIST (docs/decisions/0022-residual-order-edge-cases.md, 0031). A reserve of an
-- order line refused under the reject policy waits in KEYS[5], in order of arrival (a
-- routed one with its route: it is served at any location the route allows, as a routed
-- reserve would be placed). Every later applied command that is not a reserve (stock may
-- have come back: a release, a receipt, a count, a lower safety stock) serves the list from
-- its head in the same script: each entry whose location now has its units available is
-- reserved, atomic with the stock's return and idempotent with that command (a replay is a
-- duplicate whose stored result lists the same re-reservations, published again with the
-- same ids). Per location the order of arrival is strict: an entry that does not fit blocks
-- the later entries at its location (a small later line never jumps an earlier one), not
-- those at other locations (a routed entry that does not fit blocks every location of its
-- route, and is placed only at locations no earlier entry blocks). An entry older than the
-- idempotency ttl (ARGV[5]) is dropped. Bounded work: at most WAITING_SCAN entries looked
-- at per command and WAITING_MAX queued (beyond it a refusal is final, as it was before the
-- list existed).
local WAITING_SCAN = 64
local WAITING_MAX = 10000

local function enqueue_waiting()
  if ARGV[15] == nil or ARGV[15] == '' then return false end
  if redis.call('LLEN', KEYS[5]) >= WAITING_MAX then return false end
  local entry = cjson.decode(ARGV[15])
  entry['t'] = clock_ms()
  redis.call('RPUSH', KEYS[5], cjson.encode(entry))
  return true
end

-- Where a routed reserve of `qty` units goes (ADR 0018): the first location of `locs` that
-- has them all, else (split) units taken in route order, else nil (reject) or the first
-- location (backorder). A location named twice counts once (never its stock twice); a
-- `blocked` one (an earlier waiting line needs its stock) counts as empty.
local function place(h, locs, split, qty, policy, blocked)
  local avail, seen = {}, {}
  for i, l in ipairs(locs) do
    avail[i] = (seen[l] or blocked[l]) and 0 or at(h, l).available
    seen[l] = true
  end
  for i, l in ipairs(locs) do
    if avail[i] >= qty then return {{l, qty}} end
  end
  if split then
    local take, left = {}, qty
    for i, l in ipairs(locs) do
      local n = math.min(math.max(0, avail[i]), left)
      if n > 0 then take[#take + 1] = {l, n}; left = left - n end
    end
    if left == 0 then return take end
  end
  if policy ~= 'reject' then return {{locs[1], qty}} end
  return nil
end

-- HOLD EXPIRY (docs/decisions/0035-hold-expiry-collections-fulfillment-moves.md). A hold
-- is only ever used by the line's next routed command, which order-consumer builds from the
-- order's state; that state expires STOCKSYNC_ORDER_STATE_TTL_S (400 days) after the order
-- last changed. So a hold lives ARGV[17] seconds (the same 400 days by default) after the
-- last command that wrote it: each write sets the key's expiry again. A parked hold (a
-- field of KEYS[6]) carries the time it was parked; the whole hash expires ARGV[17] after
-- its newest field, and each parking sweeps up to WAITED_SWEEP fields from where the last
-- sweep stopped (HSCAN cursor "#cursor"), dropping those parked longer than ARGV[17].
local HOLD_TTL_S = tonumber(ARGV[17] or '')
local WAITED_SWEEP = 32
local WAITED_CURSOR = '#cursor'

-- {location: units} of a parked hold's stored value (either format).
local function parked_units(raw)
  local v = cjson.decode(raw)
  if v['at'] then return v['at'] end
  return v
end

local function sweep_waited()
  local now = clock_ms()
  local cursor = redis.call('HGET', KEYS[6], WAITED_CURSOR) or '0'
  local page = redis.call('HSCAN', KEYS[6], cursor, 'COUNT', WAITED_SWEEP)
  local flat = page[2]
  for i = 1, #flat, 2 do
    local field, raw = flat[i], flat[i + 1]
    if field ~= WAITED_CURSOR then
      local t = tonumber(cjson.decode(raw)['t'] or '')
      if t == nil then  -- parked before expiry existed: its clock starts now
        redis.call('HSET', KEYS[6], field, cjson.encode({at = parked_units(raw), t = now}))
      elseif now - t > HOLD_TTL_S * 1000 then
        redis.call('HDEL', KEYS[6], field)
      end
    end
  end
  if page[1] == '0' then
    redis.call('HDEL', KEYS[6], WAITED_CURSOR)
  else
    redis.call('HSET', KEYS[6], WAITED_CURSOR, page[1])
  end
end

-- Units re-reserved for a routed line are its hold: kept in KEYS[6] until the line's next
-- routed command (which declares its hold key) moves them into it.
local function note_waited(e, take)
  local field = e['shop'] .. ':' .. e['order_id'] .. ':' .. e['line_id']
  local raw = redis.call('HGET', KEYS[6], field)
  local cur = raw and parked_units(raw) or {}
  for _, t in ipairs(take) do cur[t[1]] = (cur[t[1]] or 0) + t[2] end
  redis.call('HSET', KEYS[6], field, cjson.encode({at = cur, t = clock_ms()}))
  if HOLD_TTL_S then
    sweep_waited()
    redis.call('EXPIRE', KEYS[6], HOLD_TTL_S)
  end
end

-- Each re-reservation bumps the version (one change event each, one per location for a
-- routed line; shopify-sync keeps the latest version) and is a ledger entry of its own,
-- naming the command that served it.
local function serve_waiting(h)
  local served = {}
  if redis.call('LLEN', KEYS[5]) == 0 then return served end
  local blocked, ttl_ms = {}, tonumber(ARGV[5]) * 1000
  for _, item in ipairs(redis.call('LRANGE', KEYS[5], 0, WAITING_SCAN - 1)) do
    local e = cjson.decode(item)
    local q, route = tonumber(e['quantity']), e['route']
    local locs = route and route['locations'] or {e['location']}
    local take
    if route then
      take = place(h, locs, route['split'], q, 'reject', blocked)
    elseif not blocked[e['location']] and at(h, e['location']).available >= q then
      take = {{e['location'], q}}
    end
    if clock_ms() - tonumber(e['t']) > ttl_ms then
      redis.call('LREM', KEYS[5], 1, item)
    elseif take then
      redis.call('LREM', KEYS[5], 1, item)
      note_sale(h, e['shop'], q)
      local routed = nil
      if route then
        routed = {}
        for _, t in ipairs(take) do routed[t[1]] = t[2] end
        note_waited(e, take)
      end
      for part, t in ipairs(take) do
        local l, n = t[1], t[2]
        local before = at(h, l)
        local _, total_before = levels_of(h)
        h[l .. '|reserved'] = before.reserved + n
        redis.call('HSET', KEYS[1], l .. '|reserved', h[l .. '|reserved'])
        local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
        local after = at(h, l)
        local _, total_after = levels_of(h)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
          'command', 'reserve', 'key', e['key'], 'location', l, 'quantity', n,
          'status', 'applied', 'version', version, 'd_on_hand', 0, 'd_reserved', n,
          'served_by', ARGV[4])
        served[#served + 1] = {key = e['key'], location = l, quantity = n, version = version,
          before = before, after = after, sku_available_before = total_before,
          sku_available_after = total_after, seen = seen_at(h, l), part = part,
          routed = routed or cjson.null, tried = route and locs or cjson.null,
          order = {shop = e['shop'], order_id = e['order_id'], line_id = e['line_id']}}
      end
    else
      for _, l in ipairs(locs) do blocked[l] = true end
    end
  end
  return served
end

-- The version the SKU ends at: the command's, or its last re-reservation's.
local function final_version(version, served)
  if #served > 0 then return served[#served].version end
  return version
end

local prior = redis.call('GET', KEYS[2])
if prior then
  local h = read_state()
  record_position(h, next(h) ~= nil)  -- nothing is written between: it exists if it held fields
  local locs, total = levels_of(h)
  return {'duplicate', prior, cjson.encode({
    version = tonumber(h['version'] or '0'), available = total, locations = locs,
    shares = shares_of(h, total) or cjson.null, kit_offsets = kit_offsets_of(h),
    seen = seen_all(h)})}
end

local cmd, loc, qty = ARGV[1], ARGV[2], tonumber(ARGV[3])
if qty == nil or qty ~= math.floor(qty) then
  return redis.error_reply('POISON quantity is not an integer')
end
if cmd ~= 'adjust' and qty < 0 then
  return redis.error_reply('POISON quantity must not be negative for ' .. cmd)
end

-- The levels after a command and the channel-allocation shares they give, kept for the read
-- API (and a kit component's parts for its kits, ADR 0040) when the command applied; with
-- the units the new shares moved between stores.
local function settle_shares(h, status, locs, total_after)
  if not locs then locs, total_after = levels_of(h) end  -- else the caller's, of this `h`
  local shares, held = shares_of(h, total_after)
  local moved = 0
  if status == 'applied' then
    moved = moved_units(h, shares)
    alloc_keep(KEYS[1], h, shares, held)
  end
  return locs, total_after, shares, moved, alloc_kit_parts(shares, held)
end

-- Order routing (ADR 0018). A reserve takes the whole line at the first location of the
-- route where it is available, else (split) across the route in order, else nothing
-- (reject policy; backorder reserves at the first). What the line holds is kept per
-- location in KEYS[4]; a routed release or commit moves only units the line holds, so a
-- refusal not yet known upstream never takes another order's units.
local ROUTE = nil
if ARGV[14] and ARGV[14] ~= '' and KEYS[4] then ROUTE = cjson.decode(ARGV[14]) end

-- What a line re-reserved while it waited holds (KEYS[6]) joins its hold (KEYS[4]).
local function merge_waited()
  local field = string.match(KEYS[4], '}:hold:(.+)$')
  local raw = field and redis.call('HGET', KEYS[6], field)
  if not raw then return end
  for l, n in pairs(parked_units(raw)) do redis.call('HINCRBY', KEYS[4], l, n) end
  redis.call('HDEL', KEYS[6], field)
  if redis.call('HLEN', KEYS[6]) == 1 then redis.call('HDEL', KEYS[6], WAITED_CURSOR) end
end

local function read_hold()
  local flat = redis.call('HGETALL', KEYS[4])
  local hold = {}
  for i = 1, #flat, 2 do hold[flat[i]] = tonumber(flat[i + 1]) end
  return hold
end

-- {location, d_reserved, d_on_hand} of a routed release or commit of `qty` units.
local function routed_moves(cmd, loc, qty)
  local hold = read_hold()
  local moves, left = {}, qty
  for _, l in ipairs(take_order(hold, ROUTE['locations'], cmd == 'commit' and loc or nil)) do
    if left == 0 then break end
    local n = math.min(hold[l], left)
    left = left - n
    moves[#moves + 1] = {l, -n, cmd == 'commit' and -n or 0}
  end
  if cmd == 'commit' and left > 0 then  -- shipped beyond what the line holds
    local merged = false
    for _, m in ipairs(moves) do
      if m[1] == loc then m[3] = m[3] - left; merged = true end
    end
    if not merged then moves[#moves + 1] = {loc, 0, -left} end
  end
  return moves
end

-- {location, 0, +n} of an adjust undoing a routed commit (a cancelled fulfilment; ADR 0031):
-- units back where the commit's stored result says it took them, in its order; what it
-- does not account for (its result expired, or a restored marker) at the command's location.
local function undo_moves(loc, qty)
  local moves, left = {}, qty
  local raw = redis.call('GET', KEYS[7])
  local done = raw and cjson.decode(raw) or {}
  for _, a in ipairs(done['allocations'] or {}) do
    local n = math.min(math.max(0, a['before']['on_hand'] - a['after']['on_hand']), left)
    if n > 0 then moves[#moves + 1] = {a['location'], 0, n}; left = left - n end
  end
  if left > 0 then
    for _, m in ipairs(moves) do
      if m[1] == loc then m[3] = m[3] + left; left = 0 end
    end
    if left > 0 then moves[#moves + 1] = {loc, 0, left} end
  end
  return moves
end

local UNDO = ARGV[16] == '1' and KEYS[7] ~= nil

local function apply_routed(cmd, loc, qty)
  merge_waited()
  local h = read_state()
  local _, total_before = levels_of(h)
  local policy = h['policy'] or 'reject'
  local status, moves, tried, available_at = 'applied', {}, cjson.null, cjson.null
  local waiting = false
  if cmd == 'reserve' then
    note_seen(h, loc, ARGV[11], qty)
    note_demand(h, qty)
    tried, available_at = ROUTE['locations'], {}
    for _, l in ipairs(tried) do available_at[l] = at(h, l).available end
    local take = place(h, ROUTE['locations'], ROUTE['split'], qty, policy, {})
    if take == nil then
      status = 'rejected'
      waiting = enqueue_waiting()
    else
      for _, t in ipairs(take) do moves[#moves + 1] = {t[1], t[2], 0} end
      note_sale(h, ARGV[11], qty)
    end
  elseif UNDO then
    moves = undo_moves(loc, qty)
  else
    moves = routed_moves(cmd, loc, qty)
  end
  local version = tonumber(h['version'] or '0')
  local allocations, routed = {}, {}
  if status == 'applied' then version = redis.call('HINCRBY', KEYS[1], 'version', 1) end
  for _, m in ipairs(moves) do
    local l, d_rs, d_oh = m[1], m[2], m[3]
    local before = at(h, l)
    local rs = math.max(0, before.reserved + d_rs)
    local oh = before.on_hand + d_oh
    redis.call('HSET', KEYS[1], l .. '|on_hand', oh, l .. '|reserved', rs,
      l .. '|safety_stock', before.safety_stock)
    h[l .. '|on_hand'], h[l .. '|reserved'], h[l .. '|safety_stock'] = oh, rs, before.safety_stock
    if d_rs ~= 0 and redis.call('HINCRBY', KEYS[4], l, d_rs) <= 0 then
      redis.call('HDEL', KEYS[4], l)
    end
    local after = at(h, l)
    local units = math.max(math.abs(d_rs), math.abs(d_oh))
    routed[l] = units
    allocations[#allocations + 1] = {location = l, quantity = units, before = before,
      after = after}
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
      'command', cmd, 'key', ARGV[4], 'location', l, 'quantity', units, 'status', status,
      'version', version, 'd_on_hand', after.on_hand - before.on_hand,
      'd_reserved', after.reserved - before.reserved)
  end
  if #allocations == 0 then  -- refused, or nothing held: the command's own location
    local here = at(h, loc)
    allocations[1] = {location = loc, quantity = 0, before = here, after = here}
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
      'command', cmd, 'key', ARGV[4], 'location', loc, 'quantity', qty, 'status', status,
      'version', version, 'd_on_hand', 0, 'd_reserved', 0)
  end
  for _, a in ipairs(allocations) do a.seen = seen_at(h, a.location) end
  if HOLD_TTL_S and redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('EXPIRE', KEYS[4], HOLD_TTL_S)
  end
  local locs_mid, total_mid = levels_of(h)
  local served = {}
  if status == 'applied' and cmd ~= 'reserve' then served = serve_waiting(h) end
  -- nothing served: the levels are still those just computed (each levels_of is ~3 µs of Lua)
  local locs, total_after, shares, moved, kit_parts =
    settle_shares(h, status, #served == 0 and locs_mid or nil, total_mid)
  local first = allocations[1]
  local result = cjson.encode({
    status = status, command = cmd, location = first.location, quantity = qty,
    version = version, before = first.before, after = first.after,
    sku_available_before = total_before, sku_available_after = total_mid,
    backordered = (status == 'applied' and cmd == 'reserve' and first.after.available < 0),
    shares = shares or cjson.null, kit_parts = kit_parts, moved = moved, seen = first.seen,
    allocations = allocations, routed = routed, tried = tried, available_at = available_at,
    served = served, waiting = waiting,
  })
  redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[5]))
  record_position(h, status == 'applied' or nil)  -- applied: its version is written
  return {status, result, cjson.encode({version = final_version(version, served),
    available = total_after,
    locations = locs, shares = shares or cjson.null, kit_offsets = kit_offsets_of(h),
    seen = seen_all(h)})}
end

if (ROUTE and (cmd == 'reserve' or cmd == 'release' or cmd == 'commit'))
    or (UNDO and cmd == 'adjust' and qty >= 0) then
  return apply_routed(cmd, loc, qty)
end

local h = read_state()
local before = at(h, loc)
local oh, rs, ss = before.on_hand, before.reserved, before.safety_stock
local status = 'applied'
local policy = h['policy'] or 'reject'
local sets = {}
local waiting = false  -- a refused reserve queued on the waiting list

if cmd == 'reserve' then
  -- the store sold it either way: its count went down, refused or not
  note_seen(h, loc, ARGV[11], qty)
  note_demand(h, qty)
  if policy == 'reject' and before.available < qty then
    status = 'rejected'
    waiting = enqueue_waiting()
  else
    rs = rs + qty
    note_sale(h, ARGV[11], qty)
  end
elseif cmd == 'release' then
  rs = math.max(0, rs - qty)
elseif cmd == 'commit' then
  oh = oh - qty
  rs = math.max(0, rs - qty)
elseif cmd == 'adjust' then
  oh = oh + qty
elseif cmd == 'set_on_hand' then
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local as_of = tonumber(ARGV[9]) or now_ms
  if as_of < tonumber(h[loc .. '|count_as_of'] or '0') then
    status = 'stale'  -- a newer count was already applied
  else
    oh = qty + moved_since(loc, as_of)
    sets[#sets + 1] = loc .. '|count_as_of'
    sets[#sets + 1] = as_of
  end
elseif cmd == 'configure' then
  local cfg = cjson.decode(ARGV[10] ~= '' and ARGV[10] or '{}')
  if cfg['policy'] ~= nil and cfg['policy'] ~= cjson.null then
    if cfg['policy'] ~= 'reject' and cfg['policy'] ~= 'backorder' then
      return redis.error_reply('POISON unknown policy ' .. tostring(cfg['policy']))
    end
    sets[#sets + 1] = 'policy'; sets[#sets + 1] = cfg['policy']
    h['policy'] = cfg['policy']
  end
  if cfg['safety_stock'] ~= nil and cfg['safety_stock'] ~= cjson.null then
    ss = tonumber(cfg['safety_stock'])
  end
  if cfg['allocation_threshold'] ~= nil and cfg['allocation_threshold'] ~= cjson.null then
    sets[#sets + 1] = 'alloc_threshold'; sets[#sets + 1] = cfg['allocation_threshold']
    h['alloc_threshold'] = tostring(cfg['allocation_threshold'])
  end
  if cfg['kit_components'] ~= nil and cfg['kit_components'] ~= cjson.null then
    sets[#sets + 1] = 'kit'; sets[#sets + 1] = cjson.encode(cfg['kit_components'])
  end
else
  return redis.error_reply('POISON unknown command ' .. cmd)
end

local version = tonumber(h['version'] or '0')
if status == 'applied' then
  -- one HSET: the levels, the settings, the version (the one it read, plus one: no HINCRBY)
  -- and the position (see record_position: the hash exists once the levels are written)
  version = version + 1
  local fields = {loc .. '|on_hand', oh, loc .. '|reserved', rs, loc .. '|safety_stock', ss,
    'version', version}
  for _, v in ipairs(sets) do fields[#fields + 1] = v end
  local pos = new_position(h)
  if pos then
    fields[#fields + 1] = 'pos'; fields[#fields + 1] = pos
    h['pos'] = pos
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  h[loc .. '|on_hand'], h[loc .. '|reserved'], h[loc .. '|safety_stock'] = oh, rs, ss
  h['version'] = tostring(version)
end
local after = at(h, loc)
local locs_mid, total_mid = levels_of(h)
-- only this location's levels moved (the other fields written above are none of a location's
-- levels), so the SKU's available before is the one after less this location's move: one
-- pass of levels_of over the hash fewer (about 3 µs of Lua each)
local total_before = total_mid - after.available + before.available
local served = {}
if status == 'applied' and cmd ~= 'reserve' then served = serve_waiting(h) end
-- nothing served: the levels are still those just computed
local locs, total_after, shares, moved, kit_parts =
  settle_shares(h, status, #served == 0 and locs_mid or nil, total_mid)

local result = cjson.encode({
  status = status, command = cmd, location = loc, quantity = qty, version = version,
  before = before, after = after,
  sku_available_before = total_before, sku_available_after = total_mid,
  backordered = (status == 'applied' and cmd == 'reserve' and after.available < 0),
  shares = shares or cjson.null, kit_parts = kit_parts, moved = moved, seen = seen_at(h, loc),
  waiting = waiting, served = served,
})
redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[5]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
  'command', cmd, 'key', ARGV[4], 'location', loc, 'quantity', qty, 'status', status,
  'version', version, 'd_on_hand', after.on_hand - before.on_hand,
  'd_reserved', after.reserved - before.reserved)
if moved > 0 then  -- each move of shares between stores is a ledger entry of its own
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[8]), '*',
    'command', 'share_move', 'key', ARGV[4], 'location', loc, 'quantity', moved,
    'status', 'applied', 'version', version, 'd_on_hand', 0, 'd_reserved', 0,
    'shares', cjson.encode(shares))
end
record_position(h, status == 'applied' or nil)  -- applied: written with the levels above
return {status, result, cjson.encode({version = final_version(version, served),
  available = total_after, locations = locs, shares = shares or cjson.null,
  kit_offsets = kit_offsets_of(h), seen = seen_all(h)})}
