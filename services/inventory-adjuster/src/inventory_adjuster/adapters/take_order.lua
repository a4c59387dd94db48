-- The locations a routed release or commit of an order line takes what the line holds from
-- (issue #23, ADR 0018 and 0037), prepended to apply.lua (a plain line's hold, units) and the
-- kit scripts' kit_hold.lua (a kit line's hold, kits): `first` (a commit's location), then
-- the route `locations` from its end (the primary location keeps its hold longest); a
-- release then any other location the line holds at (its store's route may have changed),
-- while a commit stays within its route (a warehouse's shipment names only the location it
-- left). `hold`: {location: held}.
local function take_order(hold, locations, first)
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
