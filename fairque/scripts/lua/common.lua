-- common.lua: helpers shared by every script (composed after the key functions at load time).
-- Numbers are formatted explicitly before they reach redis.call: Lua's default conversion keeps
-- only 14 significant digits, which would corrupt microsecond timestamps and pass values.

local T = redis.call('TIME')
local NOW_US = tonumber(T[1]) * 1000000 + tonumber(T[2])
local NOW_MS = math.floor(NOW_US / 1000)
local AGING_US = 0  -- set by scripts that enqueue (priority * AGING_US is the aging head start)

local function istr(n) return string.format('%d', n) end
local function fstr(x) return string.format('%.17g', x) end

-- Per-minute buckets (throughput, served and pushed per user) expire after two hours.
local MINUTE = math.floor(NOW_MS / 60000)
local BUCKET_TTL = 7200
local function bump(bucket, field, n, ttl)
  local k = bucket(MINUTE)
  -- The first increment of a field in a bucket sets the bucket's TTL: a handful of EXPIREs
  -- per bucket rather than one per call.
  if redis.call('HINCRBY', k, field, n) == n then redis.call('EXPIRE', k, ttl or BUCKET_TTL) end
end

-- How long per-user state outlives a user's work ('#idle_ms' in the settings in force,
-- queue.idle_user_seconds): its pass, its wait samples, its per-minute counts.
local IDLE_MS = nil
local SWEEP_BATCH = 200  -- idle users forgotten per pop or beat, at most
local function idle_ms()
  if not IDLE_MS then
    IDLE_MS = tonumber(redis.call('HGET', K.settings(), '#idle_ms') or '') or DEFAULT_IDLE_MS
  end
  return IDLE_MS
end

-- Per-user per-minute counts (served, pushed) live as long as the idle retention, at most
-- as long as the queue-wide buckets.
local function bump_user(bucket, user, n)
  bump(bucket, user, n, math.max(1, math.min(BUCKET_TTL, math.ceil(idle_ms() / 1000))))
end

-- A user's settings in force: weight and max_inflight (0 = no cap). An entry
-- "weight|cap|boosted weight|until ms" carries a temporary boost, which ends by itself.
local DEFAULT_WEIGHT = nil
local function default_weight()
  if not DEFAULT_WEIGHT then
    DEFAULT_WEIGHT = tonumber(redis.call('HGET', K.settings(), '*') or '1') or 1
  end
  return DEFAULT_WEIGHT
end
local function user_cfg(user)
  local raw = redis.call('HGET', K.settings(), user)
  if raw then
    local w, cap, rest = string.match(raw, '^([^|]*)|([^|]*)(.*)$')
    if w then
      local weight = tonumber(w) or default_weight()
      local bw, untl = string.match(rest, '^|([^|]*)|([^|]*)$')
      if bw and tonumber(untl) and tonumber(untl) > NOW_MS then weight = tonumber(bw) or weight end
      return weight, tonumber(cap) or 0
    end
  end
  return default_weight(), 0
end

-- Fairness by run time ('#fairness' = 'time', queue.fairness): users are charged for the time
-- their tasks ran rather than one unit per task.
local BY_TIME = nil
local function by_time()
  if BY_TIME == nil then BY_TIME = redis.call('HGET', K.settings(), '#fairness') == 'time' end
  return BY_TIME
end

-- A tenant's weight ('+<tenant>' in the settings in force; 1 when not configured).
local function tenant_weight(tenant)
  return tonumber(redis.call('HGET', K.settings(), '+' .. tenant) or '') or 1
end

-- The tenant a user belongs to (nil: none, the user competes on its own).
local function tenant_of(user)
  return redis.call('HGET', K.utenant(), user) or nil
end

-- Rate limits: GCRA on the server's clock. A limit is "rate per s|burst": from a runtime
-- override (`rlover`, until its end), else the settings in force ('~<user>', '~+<tenant>',
-- '#rate' for users not listed). '#limits' says whether any limit is configured at all, so a
-- queue without limits pays one HGET per script for them.
local MAX_INTERVAL_MS = 3600000  -- the slowest rate is 1/h: no token is ever further away
local LIMITS = nil
local function limits_on()
  if LIMITS == nil then
    LIMITS = redis.call('HGET', K.settings(), '#limits') == '1'
      or redis.call('EXISTS', K.rlover()) == 1
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

-- The pool a user is served from: derived from the live workers' registrations; users that
-- no live worker names are in the default pool '_'.
local function pool_of(user)
  return redis.call('HGET', K.upool(), user) or '_'
end

-- Keep the index of pools with ready users (pool -> lowest pass) exact after any change to
-- a pool's ready set, so a popper that may serve every pool finds the lowest pass in O(log n).
local function idx_fix(pool)
  local r = redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
  if r[1] then
    redis.call('ZADD', K.readyidx(), r[2], pool)
  else
    redis.call('ZREM', K.readyidx(), pool)
  end
end

-- Ready tasks of a user (kept by enqueue_ready and pop in the backlog hash).
local function pending_count(user)
  return tonumber(redis.call('ZSCORE', K.ubacklog(), user) or '0')
end

-- The round-robin of a pool has two levels. Its zset holds users without a tenant and one
-- entry '+<tenant>' per tenant with ready users (user ids never start with '+'); a tenant's
-- own zset holds its users. A pop takes the lowest entry, and for a tenant its lowest user,
-- so tenants share the workers by tenant weight and a tenant's users share its turns.
local function rr_zset(pool, user)
  local t = tenant_of(user)
  if t then return K.tready(pool, t), t end
  return K.ready(pool), nil
end

-- A user's pass in the round-robin (nil when it is not in it).
local function rr_score(pool, user)
  return redis.call('ZSCORE', (rr_zset(pool, user)), user)
end

-- Let a user with ready work into its pool's round-robin. Idle users bank no credit: a user
-- enters at max(its pass, the virtual time of its level: the queue's, or its tenant's), a
-- tenant at max(its pass, the queue's virtual time).
-- `exact` (a pass moved from another pool) is kept as it is.
local function rr_enter(pool, user, exact)
  local zk, t = rr_zset(pool, user)
  local p = exact
  if not p then
    p = tonumber(redis.call('HGET', K.pass(), user) or '0')
    local vt
    if t then
      vt = tonumber(redis.call('HGET', K.tstate(), t .. '|vt') or '0')
    else
      vt = tonumber(redis.call('HGET', K.meta(), 'vt') or '0')
    end
    if p < vt then p = vt end
  end
  redis.call('ZADD', zk, fstr(p), user)
  if t and not redis.call('ZSCORE', K.ready(pool), '+' .. t)
      and not throttled_until('+' .. t .. '|' .. pool) then
    local tp = tonumber(redis.call('HGET', K.tstate(), t) or '0')
    local qvt = tonumber(redis.call('HGET', K.meta(), 'vt') or '0')
    if tp < qvt then tp = qvt end
    redis.call('ZADD', K.ready(pool), fstr(tp), '+' .. t)
    redis.call('SADD', K.tactive(), pool .. '|' .. t)
  end
  idx_fix(pool)
end

-- A tenant whose last ready user left the round-robin leaves it too, keeping its pass.
local function rr_tenant_left(pool, t)
  local ts = redis.call('ZSCORE', K.ready(pool), '+' .. t)
  if ts then
    redis.call('ZREM', K.ready(pool), '+' .. t)
    redis.call('HSET', K.tstate(), t, ts)
  end
  redis.call('SREM', K.tactive(), pool .. '|' .. t)
end

-- Take a user out of its pool's round-robin, keeping its pass (`pass` when given, else its
-- score), and its tenant's when it was the tenant's last ready user. Returns its score.
local function rr_leave(pool, user, pass)
  local zk, t = rr_zset(pool, user)
  local score = redis.call('ZSCORE', zk, user)
  if score then redis.call('ZREM', zk, user) end
  if pass or score then redis.call('HSET', K.pass(), user, pass and fstr(pass) or score) end
  if t and redis.call('EXISTS', zk) == 0 then rr_tenant_left(pool, t) end
  idx_fix(pool)
  return score
end

-- Put a user into its pool's round-robin if it has work and nothing holds it back.
local function activate(user)
  if redis.call('SISMEMBER', K.paused(), user) == 1 then return false end
  if throttled_until(user) then return false end  -- back by itself at its next token
  if pending_count(user) == 0 then return false end
  local pool = pool_of(user)
  local _, cap = user_cfg(user)
  if cap > 0 and tonumber(redis.call('HGET', K.uinflight(), user) or '0') >= cap then
    if soft_capped(user) and not rr_score(pool, user)
        and not redis.call('ZSCORE', K.soft(), user) then
      local p = tonumber(redis.call('HGET', K.pass(), user) or '0')
      redis.call('ZADD', K.soft(), fstr(p), user)
    end
    return false
  end
  if rr_score(pool, user) then return false end
  local soft = redis.call('ZSCORE', K.soft(), user)
  if soft then
    redis.call('ZREM', K.soft(), user)
    redis.call('HSET', K.pass(), user, soft)
  end
  rr_enter(pool, user)
  return true
end

-- Throttled users and tenants whose token is due (or whose wake-up a clock step put out of
-- reach) come back into the round-robin: bounded per call, like promotions.
local function wake_throttled(limit)
  local due = redis.call('ZRANGEBYSCORE', K.throttled(), '-inf', istr(NOW_MS), 'LIMIT', 0, limit)
  local stepped = redis.call('ZRANGEBYSCORE', K.throttled(), '(' .. istr(NOW_MS + MAX_INTERVAL_MS),
    '+inf', 'LIMIT', 0, limit)
  for _, list in ipairs({due, stepped}) do
    for _, member in ipairs(list) do
      redis.call('ZREM', K.throttled(), member)
      local t, pool = string.match(member, '^%+(.+)|([^|]+)$')
      if t then
        if redis.call('EXISTS', K.tready(pool, t)) == 1
            and not redis.call('ZSCORE', K.ready(pool), '+' .. t) then
          local tp = tonumber(redis.call('HGET', K.tstate(), t) or '0')
          local vt = tonumber(redis.call('HGET', K.meta(), 'vt') or '0')
          if tp < vt then tp = vt end
          redis.call('ZADD', K.ready(pool), fstr(tp), '+' .. t)
          redis.call('SADD', K.tactive(), pool .. '|' .. t)
          idx_fix(pool)
        end
      else
        activate(member)
      end
    end
  end
end

-- The enqueue clock (µs, server time). FIFO order comes from the lists themselves; the clock
-- is only compared across priorities (aging) and read for ages, so equal values are harmless.
local function next_seq()
  return NOW_US
end

local function backlog_dec(user, pri)
  if tonumber(redis.call('ZINCRBY', K.ubacklog(), -1, user)) <= 0 then
    redis.call('ZREM', K.ubacklog(), user)
  end
  redis.call('HINCRBY', K.backlog(), '*', -1)
  local f = user .. '|' .. pri
  if redis.call('HINCRBY', K.backlog(), f, -1) <= 0 then redis.call('HDEL', K.backlog(), f) end
end

local function count(event, n)
  redis.call('HINCRBY', K.stats(), event, n or 1)
  bump(K.tp, event, n or 1)
end

-- A lease is held by whoever presents its token, until its deadline: an acknowledgement or a
-- heartbeat after the deadline is stale even before a reap hands the task back, so whether a
-- stalled worker's late ack counts never depends on when some other process happens to reap.
local function lease_held(state, held_token, token, deadline)
  return state == 'leased' and held_token == token and (tonumber(deadline) or 0) >= NOW_MS
end

-- A user with nothing queued and nothing in flight is idle: its per-user state is forgotten
-- idle_ms() later (sweep_idle), unless it has work again by then.
local function note_if_idle(user)
  if pending_count(user) == 0 and not redis.call('HGET', K.uinflight(), user) then
    redis.call('ZADD', K.idle(), istr(NOW_MS), user)
  end
end

-- Forget the per-user state of users idle for longer than the retention, up to `limit` of
-- them: the pass (it re-enters at the virtual time, as a new user does: at most 1/weight of
-- a turn is forgiven), the wait samples, and an expired boost's settings entry. Paused and
-- quarantined users keep their state: an operator's decision, not a tenant's leftovers.
local function sweep_idle(limit)
  local due = redis.call('ZRANGEBYSCORE', K.idle(), '-inf', istr(NOW_MS - idle_ms()),
    'LIMIT', 0, limit)
  for _, user in ipairs(due) do
    redis.call('ZREM', K.idle(), user)
    if pending_count(user) == 0 and not redis.call('HGET', K.uinflight(), user)
        and redis.call('SISMEMBER', K.paused(), user) == 0 then
      redis.call('HDEL', K.pass(), user)
      redis.call('HDEL', K.utenant(), user)
      redis.call('HDEL', K.runtime(), user)
      local tat = tonumber(redis.call('HGET', K.rl(), user) or '')
      if tat and tat <= NOW_MS then redis.call('HDEL', K.rl(), user) end  -- a full bucket
      redis.call('DEL', K.waits(user))
      local raw = redis.call('HGET', K.settings(), user)
      local base, untl = string.match(raw or '', '^([^|]*|[^|]*)|[^|]*|([^|]*)$')
      if base and (tonumber(untl) or 0) <= NOW_MS then  -- a boost that ended
        if base == fstr(default_weight()) .. '|0' then
          redis.call('HDEL', K.settings(), user)  -- the boost was all there was
        else
          redis.call('HSET', K.settings(), user, base)
        end
      end
    end
  end
  return #due
end

-- Fairness by time: the most a dispatch is charged up front (seconds) when neither the
-- user nor the queue has a mean run time yet.
local DEFAULT_ESTIMATE_S = 0.01
local RUNTIME_ALPHA = 0.2  -- weight of the newest run in the mean run times

-- What a dispatch is charged up front under fairness by time: the user's mean run time, else
-- the queue's, else DEFAULT_ESTIMATE_S. The lease's end replaces it with the real run time.
local function estimate(user)
  local r = redis.call('HMGET', K.runtime(), user, '*')
  return tonumber(r[1]) or tonumber(r[2]) or DEFAULT_ESTIMATE_S
end

-- Move a user's pass by `du` and its tenant's by `dt`, in the round-robin or where they wait.
local function shift_pass(user, t, du, dt)
  local pool = pool_of(user)
  local zk = t and K.tready(pool, t) or K.ready(pool)
  if redis.call('ZSCORE', zk, user) then
    redis.call('ZINCRBY', zk, fstr(du), user)
  else
    redis.call('HINCRBYFLOAT', K.pass(), user, fstr(du))
  end
  if t then
    if redis.call('ZSCORE', K.ready(pool), '+' .. t) then
      redis.call('ZINCRBY', K.ready(pool), fstr(dt), '+' .. t)
    else
      redis.call('HINCRBYFLOAT', K.tstate(), t, fstr(dt))
    end
  end
  idx_fix(pool)
end

-- Fairness by time: a dispatch charged an estimate ('chg' = "estimate|user weight|tenant|
-- tenant weight") is charged what the task really ran instead: `ran_ms` as its worker
-- measured it (at most the lease's age), or the lease's age when nil. With `learn`, the run
-- also updates the user's and the queue's mean run time (expired and released leases do not:
-- they say nothing about how long the work takes).
local function settle_charge(tk, ran_ms, learn)
  local f = redis.call('HMGET', tk, 'chg', 'started', 'user')
  if not f[1] or not f[3] then return end
  redis.call('HDEL', tk, 'chg')
  local est, uw, t, tw = string.match(f[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not tonumber(est) or not tonumber(uw) then return end
  local age = math.max(NOW_MS - (tonumber(f[2]) or NOW_MS), 0)
  local ran = age
  if ran_ms then ran = math.min(math.max(ran_ms, 0), age) end
  local secs = ran / 1000
  local delta = secs - tonumber(est)
  if t == '' then t = nil end
  shift_pass(f[3], t, delta / tonumber(uw), t and delta / (tonumber(tw) or 1) or 0)
  if learn then
    local r = redis.call('HMGET', K.runtime(), f[3], '*')
    local u, q = tonumber(r[1]), tonumber(r[2])
    redis.call('HSET', K.runtime(), f[3], fstr(u and u + RUNTIME_ALPHA * (secs - u) or secs),
      '*', fstr(q and q + RUNTIME_ALPHA * (secs - q) or secs))
  end
end

-- A lease ended (complete, fail, expiry, release): settle a charge by run time, free the
-- user's in-flight slot and, for a capped user, let it back into the round-robin.
local function lease_ended(task_id, user, ran_ms, learn)
  settle_charge(K.task(task_id), ran_ms, learn)
  redis.call('ZREM', K.inflight(), task_id)
  if redis.call('HINCRBY', K.uinflight(), user, -1) <= 0 then
    redis.call('HDEL', K.uinflight(), user)
    note_if_idle(user)
  end
  local _, cap = user_cfg(user)
  if cap > 0 then activate(user) end
end

-- Move a task into the DLQ with its error. Past the DLQ's cap the oldest entries are
-- dropped, and counted: the cap is never silent.
local function bury(task_id, tk, err, etype, tb, worker)
  redis.call('HSET', K.task(task_id), 'state', 'dead', 'error', err, 'etype', etype or '',
    'tb', tb or '', 'finished', istr(NOW_MS), 'dworker', worker or '')
  redis.call('ZADD', K.dlq(), istr(NOW_MS), task_id)
  count('dead')
  local cap = tonumber(redis.call('HGET', K.settings(), '#dlq_max') or '') or DEFAULT_DLQ_MAX
  local excess = redis.call('ZCARD', K.dlq()) - cap
  if excess > 0 then
    local dropped = redis.call('ZPOPMIN', K.dlq(), excess)
    for i = 1, #dropped, 2 do redis.call('DEL', K.task(dropped[i])) end
    count('dlq_dropped', excess)
  end
end

-- Take a user out of its pool's round-robin, keeping its pass for when it comes back
-- (paused, quarantined, drained).
local function leave_round_robin(user)
  rr_leave(pool_of(user), user)
  local soft = redis.call('ZSCORE', K.soft(), user)
  if soft then
    redis.call('ZREM', K.soft(), user)
    redis.call('HSET', K.pass(), user, soft)
  end
end

-- The type of a user's queue key when something else wrote over it (nil when it is a list
-- or absent). Scripts check before they write, so a planted key never half-applies a script.
local function wrong_type(key)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'list' and t ~= 'none' then return t end
  return nil
end

-- A user whose queue key holds the wrong type cannot be served: pause it (leaving the
-- round-robin, so the others keep being served), say why, and count it as corrupt.
local function quarantine(user, why)
  redis.call('HSET', K.quarantine(), user, why)
  count('corrupt')
  if redis.call('SADD', K.paused(), user) == 1 then leave_round_robin(user) end
end

-- Append a task to its user's queue of its priority: a FIFO list of "<seq>|<task id>", the
-- seq being the enqueue clock (which also gives the oldest age per user and priority).
-- The state must be set by the caller. Returns true when this made the user's queues
-- non-empty, i.e. the user may need activating. A queue key of the wrong type buries the
-- task (with the reason) and quarantines the user instead.
local function enqueue_ready(task_id, user, pri)
  local lk = K.prio(user, pri)
  local bad = wrong_type(lk)
  if bad then
    local why = 'corrupt: queue key ' .. lk .. ' holds a ' .. bad
    quarantine(user, why)
    bury(task_id, nil, why, 'CorruptQueue', '', '')
    return false
  end
  local seq = istr(next_seq())
  redis.call('RPUSH', lk, seq .. '|' .. task_id)
  redis.call('HSET', K.task(task_id), 'seq', seq)
  redis.call('HINCRBY', K.backlog(), user .. '|' .. pri, 1)
  redis.call('HINCRBY', K.backlog(), '*', 1)
  return tonumber(redis.call('ZINCRBY', K.ubacklog(), 1, user)) == 1
end

-- Make a waiting task ready now (promotion of a due delayed task, immediate retry).
local function make_ready(task_id, user, pri)
  redis.call('HSET', K.task(task_id), 'state', 'ready')
  if enqueue_ready(task_id, user, pri) then activate(user) end
end

-- Retry policy (set by scripts that may retry: fail uses the client's jittered backoff,
-- reaping uses this deterministic one).
local RETRY_BASE_MS, RETRY_FACTOR, RETRY_CAP_MS, DEFAULT_MAX_ATT = 1000, 2, 300000, 3

-- Return leases whose deadline passed: each is a failed attempt ("lease expired"), retried
-- after the backoff or buried when its attempts are used up. Bounded per call.
local function reap_expired(limit)
  local ids = redis.call('ZRANGEBYSCORE', K.inflight(), '-inf', istr(NOW_MS), 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local tk = K.task(id)
    local f = redis.call('HMGET', tk, 'state', 'user', 'att', 'max_att', 'pri', 'worker')
    if f[1] ~= 'leased' or not f[2] then
      redis.call('ZREM', K.inflight(), id)  -- an index entry that outlived its lease
    else
      local att = tonumber(f[3]) or 1
      local max_att = tonumber(f[4]) or DEFAULT_MAX_ATT
      local pri = tonumber(f[5])
      local err = 'lease expired (worker ' .. (f[6] or '?') .. ' did not finish in time)'
      redis.call('HSET', tk, 'error', err, 'etype', 'LeaseExpired', 'tb', '')
      redis.call('HDEL', tk, 'token')
      count('failed')
      count('expired')
      if att < max_att and pri then
        count('retried')
        local backoff = math.min(RETRY_CAP_MS, RETRY_BASE_MS * RETRY_FACTOR ^ (att - 1))
        local due = NOW_MS + math.floor(backoff)
        redis.call('HSET', tk, 'state', 'delayed', 'due', istr(due))
        redis.call('ZADD', K.delayed(), istr(due), id)
      else
        bury(id, tk, err, 'LeaseExpired', '', f[6])
      end
      lease_ended(id, f[2], nil, false)
    end
  end
  return #ids
end
