-- A routed kit line's hold (issue #23; docs/order-routing.md "Kits"), prepended to kit.lua and
-- kit_record.lua: both end a kit command in the kit's own hash slot, where the hold
-- inv:{kit}:hold:<shop>:<order>:<line> lives (kits per location, as apply.lua's hold of a
-- plain line holds units), so it moves atomically with the kit's stored result.

-- The locations a routed release or commit of a kit line takes its kits from, as apply.lua's
-- take_order: `first` (a commit's location), then the route from its end (the primary
-- location keeps its hold longest); a release then any other location the line holds at.
local function kit_take_order(hold, locations, first)
  local order, seen = {}, {}
  local function add(l)
    if not seen[l] and (hold[l] or 0) > 0 then order[#order + 1] = l; seen[l] = true end
  end
  if first then add(first) end
  for i = #locations, 1, -1 do add(locations[i]) end
  if first then return order end
  local rest = {}
  for l in pairs(hold) do rest[#rest + 1] = l end
  table.sort(rest)
  for _, l in ipairs(rest) do add(l) end
  return order
end

-- {location, kits, hold move} of a routed release or commit of `qty` kits taking from the
-- locations in `order` (kit_take_order): the first of them holding the whole quantity alone
-- (one location moves), else across them in order until it is covered (a line split by
-- whole kits, issue #23), what the line does not hold moved at the first (its components
-- clamped at 0, as before). Empty: the line holds nothing.
local function kit_take(hold, order, qty)
  for _, l in ipairs(order) do
    if hold[l] >= qty then return {{l, qty, -qty}} end
  end
  local parts, left = {}, qty
  for _, l in ipairs(order) do
    local n = math.min(hold[l], left)
    if n > 0 then parts[#parts + 1] = {l, n, -n}; left = left - n end
  end
  if #parts > 0 then parts[1][2] = parts[1][2] + left end
  return parts
end

-- Move the line's hold at `loc` by `n` kits (a field at 0 or below is dropped); the hold
-- lives `ttl` seconds after the last command that wrote it (0: for ever), as a plain line's.
local function kit_hold_move(key, loc, n, ttl)
  if n ~= 0 and redis.call('HINCRBY', key, loc, n) <= 0 then redis.call('HDEL', key, loc) end
  if ttl and ttl > 0 and redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
end
