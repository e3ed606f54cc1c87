-- charges.lua: what a dispatch costs under fairness by time, settled when its lease ends
-- (composed into the scripts after roundrobin.lua).

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
-- measured it (a number, or the string it sent; at most the lease's age), or the lease's age
-- when nil or ''. With `learn`, the run also updates the user's and the queue's mean run time
-- (expired and released leases do not: they say nothing about how long the work takes).
local function settle_charge(task_id, ran_ms, learn, known)
  -- known: {chg, started, user} when the caller has read them already (one read less)
  local f = known or redis.call('HMGET', K.task(task_id), 'chg', 'started', 'user')
  if not f[1] or not f[3] then return end
  redis.call('HDEL', K.task(task_id), 'chg')
  local est, uw, t, tw = string.match(f[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not tonumber(est) or not tonumber(uw) then return end
  local age = math.max(NOW_MS - (tonumber(f[2]) or NOW_MS), 0)
  local ran = age
  ran_ms = tonumber(ran_ms)  -- as the worker sent it: converted only when a charge is settled
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
