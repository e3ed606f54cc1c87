-- limits.lua: rate limits and soft caps (composed into the scripts after common.lua).

-- Rate limits: GCRA on the server's clock. A limit is "rate per s|burst": from a runtime
-- override (`rlover`, until its end), else the settings in force ('~<user>', '~+<tenant>',
-- '#rate' for users not listed). '#limits' says whether any limit is configured at all, so a
-- queue without limits pays one HGET per script for them.
-- The slowest rate is 1/h: no token is ever further away.
local MAX_INTERVAL_MS = 3600000  -- constant
local LIMITS = nil
local function limits_on()
  if LIMITS == nil then
    LIMITS = flags().limits or redis.call('EXISTS', K.rlover()) == 1
  end
  return LIMITS
end

local function parse_limit(raw)
  local r, b = string.match(raw or '', '^([^|]*)|([^|]*)$')
  if tonumber(r) and tonumber(r) > 0 then return tonumber(r), math.max(tonumber(b) or 1, 1) end
  return nil
end

-- The limit in force for a user or '+<tenant>': rate per second and burst, or nil.
local function rate_limit(name)
  if not limits_on() then return nil end
  local o = redis.call('HGET', K.rlover(), name)
  if o then
    local r, b, untl = string.match(o, '^([^|]*)|([^|]*)|([^|]*)$')
    if r and (untl == '' or (tonumber(untl) or 0) > NOW_MS) then
      return parse_limit(r .. '|' .. b)  -- an empty rate: the override lifts the limit
    end
  end
  local raw = redis.call('HGET', K.settings(), '~' .. name)
  if not raw and string.sub(name, 1, 1) ~= '+' then raw = redis.call('HGET', K.settings(), '#rate') end
  return parse_limit(raw)
end

-- The theoretical arrival time of `name`'s next token, kept within one burst of now: a later
-- one can only mean the server's clock stepped back, and must not hold the user for that long.
-- Returns it, the interval, and whether it was clamped (the caller keeps the clamped value,
-- so the bucket refills from there; read-only callers do not).
local function token_tat(name, rate, burst)
  local interval = 1000 / rate
  local tat = tonumber(redis.call('HGET', K.rl(), name) or '') or NOW_MS
  if tat > NOW_MS + interval * burst then return NOW_MS + interval * burst, interval, true end
  return tat, interval, false
end

-- Milliseconds until `name` has a token (0: it has one now); with `keep`, a clamped arrival
-- time is written back.
local function token_wait(name, rate, burst, keep)
  local tat, interval, clamped = token_tat(name, rate, burst)
  if clamped and keep then redis.call('HSET', K.rl(), name, fstr(tat)) end
  local wait = tat - interval * (burst - 1) - NOW_MS
  if wait <= 0 then return 0 end
  return math.ceil(wait)
end

local function take_token(name, rate, burst)
  local tat, interval = token_tat(name, rate, burst)
  if tat < NOW_MS then tat = NOW_MS end
  redis.call('HSET', K.rl(), name, fstr(tat + interval))
end

-- When a throttled user ('+<tenant>|<pool>' for a tenant) gets its token back; nil when it is
-- not throttled. A wake-up further away than any token can be is a clock step: ignored.
local function throttled_until(member)
  local s = tonumber(redis.call('ZSCORE', K.throttled(), member) or '')
  if s and s > NOW_MS and s <= NOW_MS + MAX_INTERVAL_MS then return s end
  return nil
end

-- Soft caps ('#capmode' = 'soft' for every user, '%<user>' for one): a user at its
-- max_inflight waits in `soft` (by pass) instead of leaving the round-robin for good, and is
-- served over its cap when nobody else in the popper's scope has ready work.
local function soft_capped(user)
  local mode = redis.call('HGET', K.settings(), '%' .. user)
    or redis.call('HGET', K.settings(), '#capmode')
  return mode == 'soft'
end
