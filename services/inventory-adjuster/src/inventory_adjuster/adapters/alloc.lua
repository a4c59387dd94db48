-- Channel allocation of one SKU (docs/decisions/0012-flash-sales-write-invariant-and-allocation.md,
-- 0040-kit-allocation.md), prepended to apply.lua, kit.lua and kit_part.lua: every script that
-- moves a SKU's stock recomputes its shares from the SKU's own hash, in the SKU's own slot.
--
-- Fields read on the state hash (h: its HGETALL as a table): "alloc_threshold", "shares" (the
-- last ones kept), "vel"/"vel_ms" (recent demand), "sold|<shop>" (units the shop sold of the
-- SKU on its own), and for a kit's component: "kitq|<kit>" (units of this SKU in one kit,
-- written when the kit is defined), "kitsold|<kit>|<shop>" (units of this SKU the shop sold
-- through the kit) and "kithint|<kit>" ({shop: kits}: the least the kit's other components
-- want to give it per store, written by KitStore when it derives the kit's shares).
--
-- A component's budget per store (its share of available) is split between the store's direct
-- sales and each of its kits (docs/decisions/0040-kit-allocation.md). Per kit, in kits: the
-- part it wants is its weighted piece of the budget, to the nearest kit, but no more than
-- the budget left holds (weights: 1 + units sold each way in the store, as the shares are weighted); the
-- part it gets is that, but no more than the hint (what the other components give: a part
-- they cannot match would be units on sale nowhere). The direct share published for the SKU
-- is the budget minus the units the kits' parts hold. Kept: "kitshares" and "kitwants"
-- ({kit: {shop: kits}}). A kit's share in a store is the least of its allocated components'
-- parts there (kits.py), so each component's budget covers what the store shows of it
-- directly and through its kits, whatever the hints say.

local alloc_now_ms
local function clock_ms()
  if not alloc_now_ms then
    local t = redis.call('TIME')
    alloc_now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return alloc_now_ms
end

-- Units asked for lately: a sum of orders that decays with the window (e^(-age/window)).
local function recent_units(h, window_s)
  local vel = tonumber(h['vel'] or '0')
  if vel == 0 then return 0 end
  local age_s = math.max(0, clock_ms() - tonumber(h['vel_ms'] or '0')) / 1000
  return vel * math.exp(-age_s / window_s)
end

-- Units asked for now (refused ones too) count into the recent demand of `key` (h its hash).
local function alloc_note_demand(key, h, qty, default)
  if not default then return end
  local vel = recent_units(h, default['window_s']) + qty
  h['vel'], h['vel_ms'] = tostring(vel), tostring(clock_ms())
  redis.call('HSET', key, 'vel', h['vel'], 'vel_ms', h['vel_ms'])
end

-- The most units of this SKU one of its kits takes (1: in no kit), from "kitq|<kit>".
local function largest_kit_units(h)
  local most = 1
  for field, v in pairs(h) do
    if string.sub(field, 1, 5) == 'kitq|' then most = math.max(most, tonumber(v) or 1) end
  end
  return most
end

-- Below it, stores are shown disjoint shares. A configured threshold is taken as it is.
-- The default one holds while stock is low for the number of stores, or for the recent
-- demand: per_store units per store (per_store kits' worth for a kit's component, by its
-- largest kit: 100 units are 2 kits of 50), or velocity x the units asked in the last
-- window, whichever is more; once on, it stays on until stock is a quarter above it.
local function threshold_of(h, n, default)
  local configured = tonumber(h['alloc_threshold'] or '')
  if configured ~= nil or not default then return configured end
  local t = math.max(default['per_store'] * n * largest_kit_units(h),
    math.ceil(default['velocity'] * recent_units(h, default['window_s'])))
  if h['shares'] then t = math.ceil(t * 1.25) end
  return t
end

-- Disjoint per-store shares of `available` (the budgets), weighted by where the SKU sells;
-- they never sum to more than `available`. nil when allocation is off or the SKU is not low.
local function budgets_of(h, available, stores, default)
  if #stores == 0 then return nil end
  local threshold = threshold_of(h, #stores, default)
  if threshold == nil or available >= threshold then return nil end
  local shares = {}
  local pool = math.max(0, available)
  local through_kits = {}  -- its sales through kits count where it sells too
  for field, v in pairs(h) do
    local shop = string.match(field, '^kitsold|.+|([^|]+)$')
    if shop then through_kits[shop] = (through_kits[shop] or 0) + tonumber(v) end
  end
  local weights, total = {}, 0
  for i, shop in ipairs(stores) do
    weights[i] = 1 + tonumber(h['sold|' .. shop] or '0') + (through_kits[shop] or 0)
    total = total + weights[i]
  end
  local given = 0
  for i, shop in ipairs(stores) do
    shares[shop] = math.floor(pool * weights[i] / total)
    given = given + shares[shop]
  end
  -- hand out what flooring left, heaviest sellers first (ties: list order)
  local order = {}
  for i = 1, #stores do order[i] = i end
  table.sort(order, function(a, b)
    if weights[a] == weights[b] then return a < b end
    return weights[a] > weights[b]
  end)
  local k = 1
  while given < pool do
    local shop = stores[order[k]]
    shares[shop] = shares[shop] + 1
    given = given + 1
    k = k % #stores + 1
  end
  return shares
end

-- The kits this SKU is a component of: sorted names and units per kit (nil: none).
local function kits_of(h)
  local names, units = {}, {}
  for field, v in pairs(h) do
    local kit = string.match(field, '^kitq|(.+)$')
    if kit and tonumber(v) and tonumber(v) > 0 then
      names[#names + 1] = kit
      units[kit] = tonumber(v)
    end
  end
  if #names == 0 then return nil end
  table.sort(names)
  return names, units
end

-- A kit that takes more units than any store's budget holds (100 A split 34/33/33, a kit
-- of 50 A) could be sold nowhere though the units make a kit: its home store (where it sold
-- most through the kit, then the largest budget, then list order; so the same store while
-- nothing moves) is given q units of budget, taken from the others (those selling the SKU
-- least first), and keeps at least one kit of it, unless the home store sells the SKU on its
-- own more than through the kit (then its buyers want the units alone: no home). Budgets
-- still sum to the same units. The home store (nil: none, a store can hold the kit
-- already, or the units make no kit).
local function alloc_home(h, budgets, kit, q)
  local pool, shops = 0, {}
  for shop, budget in pairs(budgets) do
    if budget >= q then return nil end
    pool = pool + budget
    shops[#shops + 1] = shop
  end
  if pool < q then return nil end
  table.sort(shops)
  local function kit_sold(shop) return tonumber(h['kitsold|' .. kit .. '|' .. shop] or '0') end
  local home = shops[1]
  for _, shop in ipairs(shops) do
    local a, b = kit_sold(shop), kit_sold(home)
    if a > b or (a == b and budgets[shop] > budgets[home]) then home = shop end
  end
  local function sold(shop) return tonumber(h['sold|' .. shop] or '0') end
  if sold(home) > kit_sold(home) then return nil end
  local givers = {}
  for _, shop in ipairs(shops) do
    if shop ~= home then givers[#givers + 1] = shop end
  end
  table.sort(givers, function(a, b)
    if sold(a) == sold(b) then return a < b end
    return sold(a) < sold(b)
  end)
  for _, shop in ipairs(givers) do
    local take = math.min(q - budgets[home], budgets[shop])
    budgets[shop] = budgets[shop] - take
    budgets[home] = budgets[home] + take
    if budgets[home] >= q then break end
  end
  return home
end

-- Each store's budget split between its direct sales and the SKU's kits (see the head):
-- the direct shares and {parts = {kit: {shop: kits}}, wants = ...} (nil: in no kit).
local function split_kits(h, budgets)
  local names, units = kits_of(h)
  if not names then return budgets, nil end
  local direct, parts, wants, hints = {}, {}, {}, {}
  for _, kit in ipairs(names) do
    parts[kit], wants[kit] = {}, {}
    local hint = h['kithint|' .. kit]
    hints[kit] = hint and cjson.decode(hint) or nil
  end
  local home = {}
  for _, kit in ipairs(names) do home[kit] = alloc_home(h, budgets, kit, units[kit]) end
  for shop, budget in pairs(budgets) do
    local weights = {}
    local total = 1 + tonumber(h['sold|' .. shop] or '0')
    for _, kit in ipairs(names) do
      weights[kit] = 1 + tonumber(h['kitsold|' .. kit .. '|' .. shop] or '0')
      total = total + weights[kit]
    end
    -- what each kit wants does not depend on the hints, so the hints a kit's components
    -- give each other settle after one exchange (KitStore.share_out)
    local unwanted, left = budget, budget
    for _, kit in ipairs(names) do
      local q = units[kit]
      local even = math.floor(budget * weights[kit] / total / q + 0.5)  -- to the nearest kit
      if home[kit] == shop then even = math.max(even, 1) end
      local want = math.min(math.floor(unwanted / q), even)
      local part = want
      if hints[kit] then part = math.min(part, tonumber(hints[kit][shop] or 0)) end
      parts[kit][shop], wants[kit][shop] = part, want
      unwanted = unwanted - want * q
      left = left - part * q
    end
    direct[shop] = left
  end
  return direct, {parts = parts, wants = wants, units = units}
end

-- The SKU's published shares (direct ones) and its kits' parts, or nil, nil when it is not
-- allocated. stores: the shops (a list), default: the default allocation (nil: none).
-- The SKU's available units over every location of its state hash `h` (on hand less reserved
-- and safety stock).
local function alloc_available(h)
  local total = 0
  for field, value in pairs(h) do
    local loc = string.match(field, '^(.+)|on_hand$')
    if loc then
      total = total + tonumber(value) - tonumber(h[loc .. '|reserved'] or '0')
        - tonumber(h[loc .. '|safety_stock'] or '0')
    end
  end
  return total
end

local function alloc_shares(h, available, stores, default)
  local budgets = budgets_of(h, available, stores, default)
  if not budgets then return nil, nil end
  return split_kits(h, budgets)
end

-- Keep what alloc_shares gave on the hash `key` ("shares" read by the read API and the
-- hysteresis above; "kitshares" and "kitwants" by the kits' shares, kits.py). `h`: the hash
-- as the caller read it (its HGETALL, kept up to date): a field it shows absent is not
-- deleted and one it shows holding the same value is not written again (no-op calls, #19);
-- `h` is updated with what is kept.
local function alloc_keep(key, h, shares, kits)
  if shares then
    local encoded = cjson.encode(shares)
    if h['shares'] ~= encoded then redis.call('HSET', key, 'shares', encoded) end
    h['shares'] = encoded
  elseif h['shares'] ~= nil then
    redis.call('HDEL', key, 'shares')
    h['shares'] = nil
  end
  if shares and kits then
    local parts, wants = cjson.encode(kits.parts), cjson.encode(kits.wants)
    if h['kitshares'] ~= parts or h['kitwants'] ~= wants then
      redis.call('HSET', key, 'kitshares', parts, 'kitwants', wants)
    end
    h['kitshares'], h['kitwants'] = parts, wants
  elseif h['kitshares'] ~= nil or h['kitwants'] ~= nil then
    redis.call('HDEL', key, 'kitshares', 'kitwants')
    h['kitshares'], h['kitwants'] = nil, nil
  end
end

-- What a change of the SKU says of its kits' parts (StockChange.kit_parts): per kit, its
-- units in one kit and the kits each store's budget holds for it; cjson.null when the SKU is
-- in no kit or not allocated. shopify-sync raises the SKU in a store only into room the
-- store's kits left (ADR 0040).
local function alloc_kit_parts(shares, kits)
  if not (shares and kits) then return cjson.null end
  local out = {}
  for kit, parts in pairs(kits.parts) do
    out[kit] = {units = kits.units[kit], shares = parts}
  end
  return out
end

-- A kit component's shares after a kit command looked at it (kit.lua, kit_part.lua):
-- `asked` units of a reserve (refused ones too) count into its recent demand and `sold` units
-- (negative: given back) into the shop's sales through the kit (weights, halved past 1000 as
-- apply.lua halves "sold|"); then, when `keep` (the component moved), its shares are
-- recomputed and kept. Returns the published shares (cjson.null: not allocated, or not kept)
-- and the kits' parts (alloc_kit_parts).
local function alloc_after_kit(key, kit, shop, sold, asked, stores_json, default_json, keep)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  local default = nil
  if default_json ~= nil and default_json ~= '' then default = cjson.decode(default_json) end
  if asked > 0 then alloc_note_demand(key, h, asked, default) end
  if sold ~= 0 and shop ~= '' then
    local field = 'kitsold|' .. kit .. '|' .. shop
    local n = redis.call('HINCRBY', key, field, sold)
    if n < 0 then n = 0; redis.call('HSET', key, field, 0) end
    h[field] = tostring(n)
    local sum = 0
    for f, v in pairs(h) do
      if string.sub(f, 1, 8) == 'kitsold|' then sum = sum + tonumber(v) end
    end
    for f, v in pairs(h) do
      if sum > 1000 and string.sub(f, 1, 8) == 'kitsold|' then
        h[f] = tostring(math.floor(tonumber(v) / 2))
        redis.call('HSET', key, f, h[f])
      end
    end
  end
  if not keep or stores_json == nil or stores_json == '' then return cjson.null, cjson.null end
  local total = alloc_available(h)
  local shares, held = alloc_shares(h, total, cjson.decode(stores_json), default)
  alloc_keep(key, h, shares, held)
  return shares or cjson.null, alloc_kit_parts(shares, held)
end
