-- common.lua: helpers shared by every script (composed after the key functions at load time).
-- A number joined into a string is formatted explicitly (istr, fstr): Lua's own conversion
-- keeps only 14 significant digits, which would corrupt microsecond timestamps and passes. A
-- number passed to redis.call as it is needs no formatting: the server writes it exactly (an
-- integer as its digits, anything else as %.17g, as fstr does), without a Lua string.

local T = redis.call('TIME')
local NOW_US = T[1] * 1000000 + T[2]  -- TIME's strings, each parsed once by the arithmetic
local NOW_MS = math.floor(NOW_US / 1000)

local function istr(n) return string.format('%d', n) end
local function fstr(x) return string.format('%.17g', x) end

-- `cmd key values...` for many values, 1,000 at a time: Lua passes at most about 8,000
-- values to one call. Returns the last reply. (1,000 is even: pairs stay whole.)
local function call_in_chunks(cmd, key, values)
  local reply
  for s = 1, #values, 1000 do
    reply = redis.call(cmd, key, unpack(values, s, math.min(s + 999, #values)))
  end
  return reply
end
local NOW_MS_S = istr(NOW_MS)  -- the clock as a field value, formatted once per call

-- A number joined into a string (`'p' .. 3`) is formatted by sprintf each time: priorities
-- in keys and fields are joined as these strings instead.
local PRI_NAME = {'1', '2', '3', '4', '5', '6'}  -- constant
-- And back: a priority read as a string (an argument, a task's field) is looked up here
-- rather than converted by tonumber, which parses it twice (about 1,000 instructions).
local PRI_OF = {['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6}  -- constant
-- A task's attempt after the one its field holds, as a string, for the usual few attempts
-- (formatting a number is a sprintf each time). A task never leased has no field (false).
local NEXT_ATTEMPT = {[false] = '1', ['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5'}  -- constant
-- An empty reading, shared (no script writes to it).
local NOTHING = {}  -- constant
-- The wait histogram's buckets (ms) and the same bounds as its fields.
local WAIT_BOUNDS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}  -- constant
local WAIT_LABELS = {'5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000'}  -- constant

-- Per-minute buckets (throughput, served and pushed per user) expire after two hours.
local MINUTE = math.floor(NOW_MS / 60000)
local BUCKET_TTL = 7200  -- constant
local MINUTE_S = nil  -- the minute as a key part, formatted on first use in a call
-- key function -> its bucket of this minute, built once per call; and bucket -> true once
-- this call has set its TTL (one table: a function and a string never collide as keys)
local BUCKET_KEYS = {}
local function bump(bucket, field, n, ttl)
  local k = BUCKET_KEYS[bucket]
  if not k then
    MINUTE_S = MINUTE_S or istr(MINUTE)
    k = bucket(MINUTE_S)
    BUCKET_KEYS[bucket] = k
  end
  -- The first increment of a field in a bucket sets the bucket's TTL: a handful of EXPIREs
  -- per bucket rather than one per call, and one per call at most (a pop serving many users
  -- new in this minute).
  if redis.call('HINCRBY', k, field, n) == n and not BUCKET_KEYS[k] then
    redis.call('EXPIRE', k, ttl or BUCKET_TTL)
    BUCKET_KEYS[k] = true
  end
end

-- The queue-wide settings in force a script may read, fetched together on first use: one
-- HMGET per call instead of one HGET each (a user's own entry rides along when a user's
-- settings are what asked first). '#idle_ms' (queue.idle_user_seconds) is how long per-user
-- state outlives a user's work: its pass, its wait samples, its per-minute counts.
local FLAGS = nil
-- Idle users forgotten per pop or beat, at most.
local SWEEP_BATCH = 200  -- constant
local function read_flags(user)
  local r = redis.call('HMGET', K.settings(), '#idle_ms', '*', '#fairness', '#limits',
    '#max_payload', '#nocaps', user or '*')
  FLAGS = {
    idle_ms = tonumber(r[1] or '') or DEFAULT_IDLE_MS,
    weight = tonumber(r[2] or '1') or 1,
    by_time = r[3] == 'time',
    limits = r[4] == '1',
    max_payload = tonumber(r[5] or ''),  -- the stored limit (nil: none)
    -- No user has a max_inflight: written with the settings, or no settings were ever
    -- written ('*' absent: caps come only with them). '#nocaps' absent from settings an
    -- older version wrote means "look at the user's entry".
    no_caps = r[6] == '1' or not r[2],
  }
  return r[7]
end
local function flags()
  if not FLAGS then read_flags() end
  return FLAGS
end
local function idle_ms() return flags().idle_ms end

-- Per-user per-minute counts (served, pushed) live as long as the idle retention, at most
-- as long as the queue-wide buckets.
local USER_BUCKET_TTL = nil  -- computed on first use in a call
local function bump_user(bucket, user, n)
  if not USER_BUCKET_TTL then
    USER_BUCKET_TTL = math.max(1, math.min(BUCKET_TTL, math.ceil(idle_ms() / 1000)))
  end
  bump(bucket, user, n, USER_BUCKET_TTL)
end

-- A user's settings in force: weight and max_inflight (0 = no cap). An entry
-- "weight|cap|boosted weight|until ms" carries a temporary boost, which ends by itself.
local function default_weight() return flags().weight end
-- Each user's settings are read once per call (a pop serving a user many times, an ack of
-- many of its tasks); a script that writes a user's entry forgets it (forget_user_cfg).
local USER_CFG = nil  -- made on first use in a call
local function forget_user_cfg() USER_CFG = nil end
local function user_cfg(user)
  if not USER_CFG then USER_CFG = {} end
  local known = USER_CFG[user]
  if known then return known[1], known[2] end
  local raw
  if FLAGS then raw = redis.call('HGET', K.settings(), user) else raw = read_flags(user) end
  local weight, cap = default_weight(), 0
  if raw then
    local w, c, rest = string.match(raw, '^([^|]*)|([^|]*)(.*)$')
    if w then
      weight = tonumber(w) or weight
      local bw, untl = string.match(rest, '^|([^|]*)|([^|]*)$')
      if bw and tonumber(untl) and tonumber(untl) > NOW_MS then weight = tonumber(bw) or weight end
      cap = tonumber(c) or 0
    end
  end
  USER_CFG[user] = {weight, cap}
  return weight, cap
end

-- Fairness by run time ('#fairness' = 'time', queue.fairness): users are charged for the time
-- their tasks ran rather than one unit per task.
local function by_time() return flags().by_time end

-- A tenant's weight ('+<tenant>' in the settings in force; 1 when not configured).
local function tenant_weight(tenant)
  return tonumber(redis.call('HGET', K.settings(), '+' .. tenant) or '') or 1
end

-- The tenant a user belongs to (nil: none, the user competes on its own).
local function tenant_of(user)
  return redis.call('HGET', K.utenant(), user) or nil
end
