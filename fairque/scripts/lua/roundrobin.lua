-- roundrobin.lua: pools, the two-level round-robin (users, tenants), and who enters it
-- (composed into the scripts after limits.lua).

-- The pool a user is served from: derived from the live workers' registrations; users that
-- no live worker names are in the default pool '_'.
local function pool_of(user)
  return redis.call('HGET', K.upool(), user) or '_'
end

-- Keep the index of pools with ready users (pool -> lowest pass) exact after any change to
-- a pool's ready set, so a popper that may serve every pool finds the lowest pass in O(log n).
-- Returns the pool's head as read ({user or '+tenant', pass}, empty when the pool is empty).
-- IDX_WRITES counts the index's updates in this call (pop defers its own while the index
-- holds one pool, and learns from the count when something else wrote it).
local IDX_WRITES = 0
local function idx_fix(pool)
  IDX_WRITES = IDX_WRITES + 1
  local r = redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
  if r[1] then
    redis.call('ZADD', K.readyidx(), r[2], pool)
  else
    redis.call('ZREM', K.readyidx(), pool)
  end
  return r
end

-- A script that may let many users in at once (push) sets each pool's index entry once, at
-- its end: with IDX_BATCH a table, idx_touch collects the pools until flush_index.
local IDX_BATCH = nil
local function idx_touch(pool)
  if IDX_BATCH then IDX_BATCH[pool] = true else idx_fix(pool) end
end
local function flush_index()
  for pool in pairs(IDX_BATCH or {}) do idx_fix(pool) end
  IDX_BATCH = nil
end

-- The queue's virtual time, read once per call: only pop writes it, as its last step.
local QUEUE_VT = nil
local function queue_vt()
  if not QUEUE_VT then QUEUE_VT = tonumber(redis.call('HGET', K.meta(), 'vt') or '0') end
  return QUEUE_VT
end

-- Ready tasks of a user (kept by enqueue_ready and pop in the backlog hash).
local function pending_count(user)
  return (redis.call('ZSCORE', K.ubacklog(), user) or 0) + 0  -- a score: parsed once
end

-- Idle workers block on a wake list (BLPOP) instead of polling: a user entering a pool's
-- round-robin leaves a token in that pool's list, or in 'wake' for pool '_' (the users no
-- worker names, served by the workers that serve every pool). One token at most waits in a
-- list: a token wakes one worker, and a pop that fills its ask passes the signal on (pop.lua).
local WOKEN = nil  -- pools signalled in this call (a batch signals each pool once)
local function wake_pool(pool)
  if WOKEN then
    if WOKEN[pool] then return end
  else
    WOKEN = {}
  end
  WOKEN[pool] = true
  local key = pool == '_' and K.wake() or K.wakep(pool)
  if redis.call('LLEN', key) == 0 then redis.call('RPUSH', key, '1') end
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
-- `exact` (a pass moved from another pool) is kept as it is; `zk`, `t`: the user's zset and
-- tenant when the caller just looked them up.
local function rr_enter(pool, user, exact, zk, t)
  if not zk then zk, t = rr_zset(pool, user) end
  local p = exact
  if not p then
    p = tonumber(redis.call('HGET', K.pass(), user) or '0')
    local vt
    if t then
      vt = tonumber(redis.call('HGET', K.tstate(), t .. '|vt') or '0')
    else
      vt = queue_vt()
    end
    if p < vt then p = vt end
  end
  redis.call('ZADD', zk, fstr(p), user)
  if t and not redis.call('ZSCORE', K.ready(pool), '+' .. t)
      and not throttled_until('+' .. t .. '|' .. pool) then
    local tp = tonumber(redis.call('HGET', K.tstate(), t) or '0')
    local qvt = queue_vt()
    if tp < qvt then tp = qvt end
    redis.call('ZADD', K.ready(pool), fstr(tp), '+' .. t)
    redis.call('SADD', K.tactive(), pool .. '|' .. t)
  end
  idx_touch(pool)
  wake_pool(pool)
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
-- `pending`: its ready count when the caller just read it (nil: read it here).
local function activate(user, pending)
  if redis.call('SISMEMBER', K.paused(), user) == 1 then return false end
  if throttled_until(user) then return false end  -- back by itself at its next token
  if (pending or pending_count(user)) == 0 then return false end
  local pool = pool_of(user)
  local cap = 0
  if not flags().no_caps then cap = select(2, user_cfg(user)) end
  if cap > 0 and tonumber(redis.call('HGET', K.uinflight(), user) or '0') >= cap then
    if soft_capped(user) and not rr_score(pool, user)
        and not redis.call('ZSCORE', K.soft(), user) then
      local p = tonumber(redis.call('HGET', K.pass(), user) or '0')
      redis.call('ZADD', K.soft(), fstr(p), user)
    end
    return false
  end
  local zk, t = rr_zset(pool, user)
  if redis.call('ZSCORE', zk, user) then return false end
  local soft = redis.call('ZSCORE', K.soft(), user)
  if soft then
    redis.call('ZREM', K.soft(), user)
    redis.call('HSET', K.pass(), user, soft)
  end
  rr_enter(pool, user, nil, zk, t)
  return true
end

-- Throttled users and tenants whose token is due (or whose wake-up a clock step put out of
-- reach) come back into the round-robin: bounded per call, like promotions.
local function wake_throttled(limit)
  local due = redis.call('ZRANGEBYSCORE', K.throttled(), '-inf', NOW_MS_S, 'LIMIT', 0, limit)
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
          local vt = queue_vt()
          if tp < vt then tp = vt end
          redis.call('ZADD', K.ready(pool), fstr(tp), '+' .. t)
          redis.call('SADD', K.tactive(), pool .. '|' .. t)
          idx_fix(pool)
          wake_pool(pool)
        end
      else
        activate(member)
      end
    end
  end
end
