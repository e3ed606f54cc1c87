-- routing.lua: who serves whom, derived from the live workers' registrations (composed into
-- the scripts that use it, like common.lua).
--
-- A registration is "reg fp|settings fp|assigned users csv|steal users csv or *" in `routes`,
-- with its expiry in `reg`. For every user that some live registration names, `named` holds
-- "assigning workers|stealing workers" (sorted csv) and `upool` the pool that string hashes
-- to; users nobody names are in the pool '_'. `scope` holds each worker's home pools and
-- steal pools ('*': every pool), which is all a pop reads. A registration change touches only
-- the users it names and the workers that name them, never the whole queue.

local function split_csv(text)
  local out = {}
  for item in string.gmatch(text or '', '[^,]+') do out[#out + 1] = item end
  return out
end

local function csv_of(set)
  local out = {}
  for item in pairs(set) do out[#out + 1] = item end
  table.sort(out)
  return table.concat(out, ',')
end

-- HMGET in chunks (Lua's unpack has a stack limit).
local function hmget_many(key, fields)
  local out = {}
  for i = 1, #fields, 500 do
    local r = redis.call('HMGET', key, unpack(fields, i, math.min(i + 499, #fields)))
    for _, v in ipairs(r) do out[#out + 1] = v end
  end
  return out
end

-- A pool is named after the exact sets of workers that assign and steal its users.
local function pool_name(named)
  if named == '|' then return '_' end
  return 'p' .. string.sub(redis.sha1hex(named), 1, 12)
end

local function parse_route(raw)
  return string.match(raw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
end

-- Add or remove `worker` as an assigner ('a') or stealer ('s') of `users`; users whose pool
-- changes take their place in the round-robin (their pass) to the new pool. Every worker
-- that names one of these users is added to `affected` (its scope must be recomputed).
local function rename(users, worker, role, add, affected)
  local raws = hmget_many(K.named(), users)
  for i, user in ipairs(users) do
    local raw = raws[i] or '|'
    local a, s = string.match(raw, '^([^|]*)|([^|]*)$')
    local sets = {a = {}, s = {}}
    for _, w in ipairs(split_csv(a)) do sets.a[w] = true; affected[w] = true end
    for _, w in ipairs(split_csv(s)) do sets.s[w] = true; affected[w] = true end
    sets[role][worker] = add or nil
    local new = csv_of(sets.a) .. '|' .. csv_of(sets.s)
    if new ~= raw then
      local from, to = pool_name(raw), pool_name(new)
      if new == '|' then
        redis.call('HDEL', K.named(), user)
        redis.call('HDEL', K.upool(), user)
      else
        redis.call('HSET', K.named(), user, new)
        redis.call('HSET', K.upool(), user, to)
      end
      if from ~= to then
        local score = rr_leave(from, user)
        if score then rr_enter(to, user, tonumber(score)) end
      end
    end
  end
end

-- Recompute one worker's scope from its registration and its users' pools.
local function rescope(worker)
  local raw = redis.call('HGET', K.routes(), worker)
  if not raw then
    redis.call('HDEL', K.scope(), worker)
    return
  end
  local fp, _, assigned, steal = parse_route(raw)
  local seen, home = {}, {}
  local users = split_csv(assigned)
  for i, pool in ipairs(hmget_many(K.upool(), users)) do
    pool = pool or '_'
    if not seen[pool] then seen[pool] = true; home[#home + 1] = pool end
  end
  table.sort(home)
  local st = '*'
  if steal ~= '*' then
    local others = {}
    for _, pool in ipairs(hmget_many(K.upool(), split_csv(steal))) do
      pool = pool or '_'
      if not seen[pool] then seen[pool] = true; others[#others + 1] = pool end
    end
    table.sort(others)
    st = table.concat(others, ',')
  end
  redis.call('HSET', K.scope(), worker, fp .. '|' .. table.concat(home, ',') .. '|' .. st)
end

local function apply_route(worker, raw, add)
  local _, _, assigned, steal = parse_route(raw)
  local affected = {}
  rename(split_csv(assigned), worker, 'a', add, affected)
  if steal ~= '*' then rename(split_csv(steal), worker, 's', add, affected) end
  affected[worker] = nil
  return affected
end

-- A settings document no live registration refers to (and not the one in force) is dropped.
local function gc_doc(sfp)
  if sfp == '' or redis.call('HGET', K.settings_meta(), 'fp') == sfp then return end
  for _, raw in ipairs(redis.call('HVALS', K.routes())) do
    local _, other = parse_route(raw)
    if other == sfp then return end
  end
  redis.call('HDEL', K.settings_docs(), sfp)
end

-- Remove a worker's registration: its users fall back to the other workers that name them,
-- or to the pool '_' (served by '*' stealers).
local function unregister(worker)
  local raw = redis.call('HGET', K.routes(), worker)
  redis.call('ZREM', K.reg(), worker)
  if not raw then return false end
  redis.call('HDEL', K.routes(), worker)
  redis.call('HDEL', K.scope(), worker)
  for w in pairs(apply_route(worker, raw, false)) do rescope(w) end
  local _, sfp = parse_route(raw)
  gc_doc(sfp)
  return true
end

-- Registrations whose worker stopped beating (bounded per call).
local function expire_stale(limit)
  local stale = redis.call('ZRANGEBYSCORE', K.reg(), '-inf', NOW_MS_S, 'LIMIT', 0, limit)
  for _, worker in ipairs(stale) do unregister(worker) end
  return #stale
end

-- Register (or re-register) a worker: a changed registration replaces the old one.
local function register(worker, raw, expires)
  local old = redis.call('HGET', K.routes(), worker)
  redis.call('ZADD', K.reg(), istr(expires), worker)
  if old == raw then return false end
  local old_fp, old_sfp = nil, ''
  if old then old_fp, old_sfp = parse_route(old) end
  local fp = parse_route(raw)
  if old and old_fp == fp then  -- same users, other settings: no routing change
    redis.call('HSET', K.routes(), worker, raw)
    gc_doc(old_sfp)
    return true
  end
  local affected = {}
  if old then
    for w in pairs(apply_route(worker, old, false)) do affected[w] = true end
  end
  redis.call('HSET', K.routes(), worker, raw)
  for w in pairs(apply_route(worker, raw, true)) do affected[w] = true end
  affected[worker] = true
  for w in pairs(affected) do rescope(w) end
  if old then gc_doc(old_sfp) end
  return true
end

-- Write the settings document `doc` (JSON) as the settings in force. Running boosts are kept;
-- users whose cap changed may be let back into the round-robin.
local function write_settings(sfp, doc, writer, how)
  local d = cjson.decode(doc)
  local old = redis.call('HGETALL', K.settings())
  local boosts, capped = {}, {}
  for i = 1, #old, 2 do
    local user, raw = old[i], old[i + 1]
    local bw, untl = string.match(raw, '^[^|]*|[^|]*|([^|]*)|([^|]*)$')
    if bw and tonumber(untl) and tonumber(untl) > NOW_MS then boosts[user] = '|' .. bw .. '|' .. untl end
    if string.match(raw, '^[^|]*|([1-9]%d*)') then capped[user] = true end
  end
  redis.call('DEL', K.settings())
  redis.call('HSET', K.settings(), '*', fstr(d.default_weight),
    '#max_payload', istr(d.max_payload_bytes), '#dlq_max', istr(d.dlq_max),
    '#idle_ms', istr(math.floor((d.idle_user_seconds or DEFAULT_IDLE_MS / 1000) * 1000 + 0.5)))
  if d.fairness == 'time' then redis.call('HSET', K.settings(), '#fairness', 'time') end
  if d.max_inflight_mode == 'soft' then redis.call('HSET', K.settings(), '#capmode', 'soft') end
  local limited = d.default_limit ~= nil
  if d.default_limit then
    redis.call('HSET', K.settings(), '#rate', fstr(d.default_limit[1]) .. '|' .. istr(d.default_limit[2]))
  end
  for name, l in pairs(d.limits or {}) do
    redis.call('HSET', K.settings(), '~' .. name, fstr(l[1]) .. '|' .. istr(l[2]))
    limited = true
  end
  if limited then redis.call('HSET', K.settings(), '#limits', '1') end
  for user, mode in pairs(d.modes or {}) do redis.call('HSET', K.settings(), '%' .. user, mode) end
  FLAGS, LIMITS = nil, nil  -- read again after this write
  forget_user_cfg()
  local batch = {}
  local function put(user, entry)
    batch[#batch + 1] = user
    batch[#batch + 1] = entry
    if #batch >= 1000 then
      redis.call('HSET', K.settings(), unpack(batch))
      batch = {}
    end
  end
  local caps = false
  for user, s in pairs(d.users) do
    put(user, fstr(s.weight) .. '|' .. istr(s.max_inflight) .. (boosts[user] or ''))
    boosts[user] = nil
    if s.max_inflight > 0 then caps = true end
  end
  if not caps then put('#nocaps', '1') end
  for user, boost in pairs(boosts) do put(user, fstr(d.default_weight) .. '|0' .. boost) end
  for tenant, w in pairs(d.tenants or {}) do put('+' .. tenant, fstr(w)) end
  if #batch > 0 then redis.call('HSET', K.settings(), unpack(batch)) end
  redis.call('HSET', K.settings_docs(), sfp, doc)
  local prev = redis.call('HGET', K.settings_meta(), 'fp')
  redis.call('HSET', K.settings_meta(), 'fp', sfp, 'writer', writer, 'at', NOW_MS_S, 'how', how)
  if prev and prev ~= sfp then gc_doc(prev) end
  for user in pairs(capped) do activate(user) end
end
