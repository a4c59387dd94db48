-- Erase an order's state and leave a tombstone (docs/decisions/0022-residual-order-edge-cases.md, d).
-- KEYS[1] order:{<shop>:<order id>}  hash: rev, doc (the state), erased (ms, the tombstone)
-- ARGV: 1 erased at (ms), 2 the tombstone's time to live (s)
-- The state goes; the hash keeps only its rev, moved on (a save computed from the state read
-- before fails its compare-and-set) and the time it was erased: save_order.lua refuses to
-- write over it and order-consumer applies no webhook to it until it expires.
-- Returns 1 when there was a state to erase, else 0.
local had = redis.call('HEXISTS', KEYS[1], 'doc')
redis.call('HDEL', KEYS[1], 'doc')
redis.call('HINCRBY', KEYS[1], 'rev', 1)
if redis.call('HEXISTS', KEYS[1], 'erased') == 0 then
  redis.call('HSET', KEYS[1], 'erased', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return had
