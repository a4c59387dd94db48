-- The last step of a kit command on a Redis Cluster, in the kit's own hash slot
-- (docs/decisions/0034-kits-on-redis-cluster.md): what kit.lua writes on the kit's keys once
-- its components moved (or were all refused). A second call answers "duplicate" with the
-- first result.
--
-- KEYS[1] kit state hash inv:{kit}, KEYS[2] its idempotency key, KEYS[3] its ledger,
-- KEYS[4] its waiting list inv:{kit}:waiting, KEYS[5] its own marker (kit.lua's; a rebuild's)
-- ARGV: 1 status (applied|rejected), 2 command, 3 location, 4 kit quantity, 5 idempotency
--       key, 6 ttl (s), 7 ledger max length, 8 the ordering shop ("" none), 9 the components'
--       changes JSON (a list), 10 the skipped components JSON (a list, [] none), 11 and 12
--       the waiting entry to queue if refused and the one served ("" none; kit.lua's 11, 12),
--       13 the commands partition ("" none) and 14 the offset of the command ("pos"),
--       15 the kits the order line's hold moves by at the location when applied (a routed
--       command; 0 none), 16 the hold's TTL (s), 17 the locations a routed reserve tried
--       (JSON list, "" none)
--       18 the kits per location the command moved, JSON [[location, kits, hold move], ...]
--       (a routed kit line split by whole kits, or released where its kits are held: each
--       location's hold moves by its own; issue #23), "" none: all at ARGV[3], the hold by 15
-- KEYS[6] the order line's kit hold inv:{kit}:hold:<shop>:<order>:<line> (kit_hold.lua)

local prior = redis.call('GET', KEYS[2])
if prior then return {'duplicate', prior} end
local status, cmd, loc, qty = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local partition = ARGV[13] ~= '' and ARGV[13] or nil
local kit_version = kit_own(KEYS[1], KEYS[5], status, cmd, loc, qty, ARGV[8], partition, ARGV[14])
local skipped = cjson.decode(ARGV[10])
local waiting = kit_waiting(status, KEYS[4], ARGV[11] or '', ARGV[12] or '')
local tried, held = cjson.null, 0
if ARGV[17] and ARGV[17] ~= '' then tried = cjson.decode(ARGV[17]) end
local allocs = {{loc, qty, tonumber(ARGV[15] or '0')}}
if ARGV[18] and ARGV[18] ~= '' then allocs = cjson.decode(ARGV[18]) end
local placed = {}
for _, a in ipairs(allocs) do
  local move = 0
  if status == 'applied' and KEYS[6] then
    move = a[3]
    held = held + move
    kit_hold_move(KEYS[6], a[1], move, tonumber(ARGV[16] or '0'))
  end
  placed[#placed + 1] = {location = a[1], kits = a[2], held = move}
end
local result = cjson.encode({status = status, command = cmd, location = loc, quantity = qty,
  version = kit_version, components = cjson.decode(ARGV[9]), waiting = waiting,
  skipped = #skipped > 0 and skipped or cjson.null, tried = tried, held = held,
  allocations = placed})
redis.call('SET', KEYS[2], result, 'EX', tonumber(ARGV[6]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[7]), '*',
  'command', cmd, 'key', ARGV[5], 'location', loc, 'quantity', qty, 'status', status,
  'version', kit_version, 'd_on_hand', 0, 'd_reserved', 0)
return {status, result}
