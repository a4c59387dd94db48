-- Save an order's state if nobody saved it since it was read (compare-and-set on rev).
-- KEYS[1] order:{<shop>:<order id>}  hash: rev (integer, absent = 0), doc (JSON state)
-- ARGV: 1 the rev that was read, 2 the new JSON state, 3 time to live (s)
-- Returns the new rev, or 0 when the rev moved (the caller reads again and recomputes) or
-- the order was erased (a tombstone, erase_order.lua: the caller reads again and skips it).
if redis.call('HEXISTS', KEYS[1], 'erased') == 1 then
  return 0
end
local current = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if current ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'rev', current + 1, 'doc', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return current + 1
