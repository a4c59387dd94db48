-- A routed kit line's hold (issue #23; docs/order-routing.md "Kits"), prepended to kit.lua and
-- kit_record.lua: both end a kit command in the kit's own hash slot, where the hold
-- inv:{kit}:hold:<shop>:<order>:<line> lives (kits per location, as apply.lua's hold of a
-- plain line holds units), so it moves atomically with the kit's stored result.

-- {location, kits, hold move} of a routed release or commit of `qty` kits taking from the
-- locations in `order` (take_order.lua): the first of them holding the whole quantity alone
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
