-- dispatch.lua: how pop picks users and takes their tasks. Its helpers live here rather than
-- in pop.lua so that the function library defines them once, when it loads: defined in the
-- script's body they were 18 closures made (and collected) on every pop, about a fifth of a
-- pop that finds nothing. What they share within one pop is per-call state, set by pop.
local AGING_US = 0  -- aging in µs (pop's ARGV[2])
local STEAL_AFTER_US = 0  -- pop's ARGV[13]
-- The popper's scope, as its registration left it: home pools, then the pools it may steal
-- from ('*': any pool). A popper without a worker id serves every pool.
local HOME_SPEC, STEAL_SPEC = '*', ''

-- The fair pick: the lowest entry over the home pools, else over the steal pools. An entry is
-- a user, or a tenant ('+<tenant>'), which serves its own lowest-pass user. Returns the user,
-- its pass, the pool, and for a tenant's user the tenant and the tenant's pass.
local function descend(pool, entry, score)
  if string.sub(entry, 1, 1) ~= '+' then return entry, score end
  local t = string.sub(entry, 2)
  local u = redis.call('ZRANGE', K.tready(pool, t), 0, 0, 'WITHSCORES')
  if not u[1] then  -- a tenant entry that outlived its users: repair, look again
    rr_tenant_left(pool, t)
    idx_fix(pool)
    return nil
  end
  return u[1], tonumber(u[2]), t, score
end

-- The head a dispatch left its pool with, as its last step read it: the next pick reuses it
-- when that pool is still the lowest (nothing runs in between). Any other path through the
-- loop clears it. (Two locals, not a table: one table fewer per dispatch.)
local KNOWN_POOL, KNOWN_R = nil, nil
-- While the index of pools holds one pool (the usual case: no worker is assigned users),
-- its order decides nothing: a dispatch leaves the index as it is and the pop sets its
-- score once, at its end (settle_index). `SOLO` is that pool, valid while the index saw no
-- other write in this call (IDX_WRITES); `STALE` the pool whose score waits.
local SOLO, SOLO_WRITES, STALE = nil, -1, nil
local function settle_index()
  if STALE then idx_fix(STALE) end
  STALE = nil
end

local function lowest(spec)
  if spec == '' then return nil end
  local entry, score, pool
  local head_pool, head_r = KNOWN_POOL, KNOWN_R
  KNOWN_POOL, KNOWN_R = nil, nil
  if spec == '*' then  -- any pool: the index of pools by their lowest pass
    if not (SOLO and SOLO_WRITES == IDX_WRITES) then
      settle_index()  -- the index is read for its order now: every score exact
      local r = redis.call('ZRANGE', K.readyidx(), 0, 1)
      if not r[1] then return nil end
      SOLO = r[1]
      if r[2] then SOLO = nil end
      SOLO_WRITES = IDX_WRITES
      pool = r[1]
    end
    pool = pool or SOLO
    local u
    if head_pool == pool then u = head_r else
      u = redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
    end
    if not u[1] then  -- an index entry that outlived its pool's users: repair, look again
      if STALE == pool then STALE = nil end
      idx_fix(pool)
      return lowest(spec)
    end
    entry, score = u[1], u[2] + 0  -- a score is a number: parsed once (tonumber: twice)
  else
    for p in string.gmatch(spec, '[^,]+') do
      local r = redis.call('ZRANGE', K.ready(p), 0, 0, 'WITHSCORES')
      if r[1] then
        local sc = tonumber(r[2])
        if not entry or sc < score or (sc == score and r[1] < entry) then
          entry, score, pool = r[1], sc, p
        end
      end
    end
    if not entry then return nil end
  end
  local user, pass, t, tpass = descend(pool, entry, score)
  if not user then return lowest(spec) end
  return user, pass, pool, t, tpass
end

-- The user's next task: CRITICAL first (FIFO), then the lowest aged enqueue time
-- (seq - priority * aging) among the heads of priorities 5..1. Reads are protected: a queue
-- key of the wrong type (written over by something else) returns (nil, nil, that key) so the
-- caller quarantines this user and goes on serving the others.
local function read(cmd, key, ...)
  local r = redis.pcall(cmd, key, ...)
  if type(r) == 'table' and r['err'] then return nil, key end
  return r
end

-- The entry's task id, priority and seq (when it became ready, µs) after popping the head
-- of `best_p` (nil when empty).
local function pop_head(user, best_p)
  local entry, bad = read('LPOP', K.prio(user, PRI_NAME[best_p]))
  if bad then return nil, nil, bad end
  if not entry then return nil end
  -- "<seq>|<id>": a plain find and two cuts cost a third of a pattern match with captures.
  -- An entry written by something else is taken as it reads: no bar, no task (the counters
  -- are repaired); a task id that has no hash counts as a phantom; a seq that is no number
  -- dates the wait from the task's creation.
  local bar = string.find(entry, '|', 1, true)
  if not bar then return nil, best_p end
  return string.sub(entry, bar + 1), best_p, nil, string.sub(entry, 1, bar - 1)
end

-- The highest-priority head among `pris` (aged), or a wrong-type key.
local function best_head(user, pris)
  local best_p, best_score
  for _, p in ipairs(pris) do
    local head, bad = read('LINDEX', K.prio(user, PRI_NAME[p]), 0)
    if bad then return nil, bad end
    if head then
      local score = tonumber(string.match(head, '^(%d+)|')) - p * AGING_US
      if not best_p or score < best_score then best_p, best_score = p, score end
    end
  end
  return best_p
end

-- Every list looked at: when the counters disagree with the lists (edited from outside).
local function take_probing(user)
  local id, got, bad, seq = pop_head(user, 6)
  if id or bad then return id, got, bad, seq end
  local best_p
  best_p, bad = best_head(user, {5, 4, 3, 2, 1})
  if bad then return nil, nil, bad end
  if not best_p then return nil end
  return pop_head(user, best_p)
end

-- A user served again in the same pop: its first dispatch reads its counters and writes them
-- at once; the ones after it are carried in OWED and written once, when the pop settles the
-- user. A user served k times in one pop costs one read and one write of each counter, not k
-- (a user served once pays only the bookkeeping: about 2% more instructions per dispatch).
-- Whatever else reads a user's counters or in-flight count in the pop settles the user first.
-- (Tables made by pop for each call: nil in any other script.)
local READY = nil  -- user -> its ready count per priority, as read and taken since
local LEFT = nil   -- user -> its ready count in all after its last dispatch
local OWED = nil   -- user -> what its later dispatches took: per priority, [7] in all, [8] leased
local function settle(user)
  local owed = OWED[user]
  READY[user], LEFT[user], OWED[user] = nil, nil, nil
  if not owed then return end
  if redis.call('ZINCRBY', K.ubacklog(), -owed[7], user) + 0 <= 0 then
    redis.call('ZREM', K.ubacklog(), user)
  end
  for p = 1, 6 do
    if owed[p] > 0 then
      local f = user .. '|' .. PRI_NAME[p]
      if redis.call('HINCRBY', K.backlog(), f, -owed[p]) <= 0 then redis.call('HDEL', K.backlog(), f) end
    end
  end
  if owed[8] > 0 then redis.call('HINCRBY', K.uinflight(), user, owed[8]) end
end
local function settle_all()
  for user in pairs(OWED) do settle(user) end
end

-- One ready task of the user left its list at priority `pri`: returns how many it has left.
local function taken(user, pri)
  local ready, left = READY[user], LEFT[user]
  if not (ready and left) then  -- its first in this pop: written at once
    left = backlog_dec(user, pri)
    if ready then
      ready[pri] = ready[pri] - 1
      LEFT[user] = left
    end
    return left
  end
  local owed = OWED[user]
  if not owed then
    owed = {0, 0, 0, 0, 0, 0, 0, 0}
    OWED[user] = owed
  end
  ready[pri] = ready[pri] - 1
  owed[pri] = owed[pri] + 1
  owed[7] = owed[7] + 1
  QUEUED_DELTA = QUEUED_DELTA - 1
  left = left - 1
  LEFT[user] = left
  if left < 0 then return 0 end
  return left
end

-- The backlog counters say which of the user's lists hold work: one read, and the heads of
-- only those are compared (a user with work at one priority costs two calls, not seven).
local function take(user)
  local ready = READY[user]
  if not ready then
    ready = redis.call('HMGET', K.backlog(), user .. '|1', user .. '|2', user .. '|3',
      user .. '|4', user .. '|5', user .. '|6')
    for p = 1, 6 do ready[p] = tonumber(ready[p]) or 0 end
    READY[user] = ready
  end
  local best_p, several, bad = nil, false, nil
  for p = 6, 1, -1 do
    if ready[p] > 0 then
      if best_p then several = true break end
      best_p = p
    end
  end
  if several and best_p ~= 6 then
    local counted = {}
    for p = 6, 1, -1 do
      if ready[p] > 0 then counted[#counted + 1] = p end
    end
    best_p, bad = best_head(user, counted)
    if bad then return nil, nil, bad end
  end
  if best_p then
    local id, got, seq
    id, got, bad, seq = pop_head(user, best_p)
    if id or bad then return id, got, bad, seq end
  end
  settle(user)  -- the counters disagree with the lists: from here on, what the lists say
  return take_probing(user)
end

-- Counters can drift from the lists when something outside fairque edits them (an entry
-- planted by hand, a task hash deleted). When a user's counter says it is empty, count its
-- lists and repair the counters, so no task is ever stranded behind a wrong count. This runs
-- only when a user drains, not per dispatch.
local function recount(user)
  local lists = {}
  for p = 1, 6 do lists[p] = K.prio(user, p) end
  if redis.call('EXISTS', unpack(lists)) == 0 then  -- the usual case: nothing left anywhere
    local c = redis.call('HMGET', K.backlog(), user .. '|1', user .. '|2', user .. '|3',
      user .. '|4', user .. '|5', user .. '|6')
    for p = 1, 6 do
      if c[p] then redis.call('HDEL', K.backlog(), user .. '|' .. p) end
    end
    local counted = pending_count(user)
    if counted ~= 0 then
      redis.call('HINCRBY', K.backlog(), '*', -counted)
      redis.call('ZREM', K.ubacklog(), user)
    end
    return 0
  end
  local total = 0
  for p = 1, 6 do
    local f = user .. '|' .. p
    local n = tonumber((read('LLEN', K.prio(user, p)))) or 0  -- a broken key counts 0
    if n ~= tonumber(redis.call('HGET', K.backlog(), f) or '0') then
      if n > 0 then redis.call('HSET', K.backlog(), f, n) else redis.call('HDEL', K.backlog(), f) end
    end
    total = total + n
  end
  local counted = pending_count(user)
  if total ~= counted then
    redis.call('HINCRBY', K.backlog(), '*', total - counted)
    if total > 0 then redis.call('ZADD', K.ubacklog(), total, user) end
  end
  return total
end

-- Wait (ready -> leased) of each dispatch: the user's last 100, the per-minute count of its
-- dispatches, and a histogram. All of it is written once per pop (flush_waits): a user served
-- k times costs one LPUSH of k samples and one increment, not k of each.
local WAITS = nil  -- (made by pop) histogram increments of this pop: bucket (or sum_ms) -> n
-- user -> this pop's wait samples (one: the string; more: a list, oldest first), and the users
local SAMPLES, SAMPLED = nil, nil  -- (made by pop)
-- The samples list is trimmed back to 100 once it holds 150 (readers take the newest 100),
-- and has no TTL: it goes with the rest of the user's state when the user has been idle for
-- the retention (sweep_idle).
local WAIT_KEEP = 100  -- constant
local function record_wait(user, wait, wait_s)
  local mine = SAMPLES[user]
  if not mine then
    SAMPLES[user] = wait_s
    SAMPLED[#SAMPLED + 1] = user
  elseif type(mine) == 'string' then
    SAMPLES[user] = {mine, wait_s}
  else
    mine[#mine + 1] = wait_s
  end
  local le = '+Inf'
  for i = 1, #WAIT_BOUNDS do
    if wait <= WAIT_BOUNDS[i] then le = WAIT_LABELS[i] break end
  end
  WAITS[le] = (WAITS[le] or 0) + 1
  WAITS.sum_ms = (WAITS.sum_ms or 0) + wait
end
local function flush_waits()
  for i = 1, #SAMPLED do
    local user = SAMPLED[i]
    local mine = SAMPLES[user]
    local held
    if type(mine) == 'string' then
      bump_user(K.srv, user, 1)
      held = redis.call('LPUSH', K.waits(user), mine)
    else
      bump_user(K.srv, user, #mine)
      -- LPUSH puts each value at the head in turn: the newest ends first, as one by one.
      held = call_in_chunks('LPUSH', K.waits(user), mine)
    end
    if held >= WAIT_KEEP + 50 then
      redis.call('LTRIM', K.waits(user), 0, WAIT_KEEP - 1)
    end
  end
  for field, n in pairs(WAITS) do redis.call('HINCRBY', K.waith(), field, n) end
end

-- A stealer leaves a user's fresh work to the workers assigned that user: it steals only work
-- that has waited steal_after (they are busy, or gone). Users nobody assigns go at once.
local function may_steal(user, pool)
  -- The pool '_' holds the users no worker names: nobody is owed the first chance.
  if STEAL_AFTER_US <= 0 or pool == '_' then return true end
  local named = redis.call('HGET', K.named(), user)
  if not named or string.sub(named, 1, 1) == '|' then return true end
  local oldest
  for p = 6, 1, -1 do
    local head = read('LINDEX', K.prio(user, p), 0)
    local seq = head and tonumber(string.match(head, '^(%d+)|'))
    if seq and (not oldest or seq < oldest) then oldest = seq end
  end
  return not oldest or NOW_US - oldest >= STEAL_AFTER_US
end

-- Soft-capped users at their cap (lowest pass first) that this popper may serve: a fallback
-- for when nobody in its scope has ready work, so capacity is never left idle.
local function in_spec(spec, pool)
  if spec == '*' then return true end
  for p in string.gmatch(spec, '[^,]+') do
    if p == pool then return true end
  end
  return false
end

local function lowest_soft()
  local r = redis.call('ZRANGE', K.soft(), 0, 15, 'WITHSCORES')
  for i = 1, #r, 2 do
    local pool = pool_of(r[i])
    if in_spec(HOME_SPEC, pool) then return r[i], tonumber(r[i + 1]), pool, 0 end
    if in_spec(STEAL_SPEC, pool) then return r[i], tonumber(r[i + 1]), pool, 1 end
  end
  return nil
end

-- Lease sequence numbers are reserved for the whole pop with one increment (a number a pop
-- reserved and did not use is skipped: they stay unique and in dispatch order).
local SEQ_NEXT, SEQ_LAST = 1, 0
local function next_lease_seq(wanted)
  if SEQ_NEXT > SEQ_LAST then
    SEQ_LAST = redis.call('HINCRBY', K.meta(), 'lease_seq', wanted)
    SEQ_NEXT = SEQ_LAST - wanted + 1
  end
  SEQ_NEXT = SEQ_NEXT + 1
  return SEQ_NEXT - 1
end

-- A pop's start: its arguments (pop.lua's header says what each is) and its bookkeeping,
-- each user's counters as read and what its later dispatches owe them, and the wait samples.
local function start_pop(ARGV)
  AGING_US = ARGV[2] + 0  -- a number: parsed once (tonumber: twice)
  STEAL_AFTER_US = tonumber(ARGV[13]) or 0
  RETRY_BASE_MS, RETRY_FACTOR = ARGV[8] + 0, ARGV[9] + 0
  RETRY_CAP_MS, DEFAULT_MAX_ATT = ARGV[10] + 0, ARGV[11] + 0
  READY, LEFT, OWED = {}, {}, {}
  WAITS, SAMPLES, SAMPLED = {}, {}, {}
end

-- What a pop does before it picks, each step bounded by `limit`: expired leases become
-- failed attempts (a crashed worker's tasks come back), users idle past the retention are
-- forgotten, ended parents are passed on to the tasks that wait on them, throttled users
-- whose next token is due come back, and due delayed tasks are made ready (the rest wait
-- for the next pop). Returns whether parents' ends are left to pass on (a later call will).
local function maintain(limit, worker)
  reap_expired(limit)
  local releasing = release_dependents(RELEASE_BUDGET)
  sweep_idle(SWEEP_BATCH)
  wake_throttled(limit)
  local due = redis.call('ZRANGEBYSCORE', K.delayed(), '-inf', NOW_MS_S, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', K.delayed(), id)
    local f = redis.call('HMGET', K.task(id), 'user', 'pri', 'state', 'due')
    local pri = tonumber(f[2])
    if f[1] and pri and pri >= 1 and pri <= 6 then
      local due_ms = tonumber(f[4])
      make_ready(id, f[1], pri, due_ms and due_ms <= NOW_MS and due_ms * 1000 or nil)
      count('promoted')
    elseif f[1] or f[2] or f[3] then
      bury(id, nil, 'corrupt: delayed task has no valid user or priority', 'CorruptTask', '', worker)
      count('corrupt')
    else
      count('phantom')
    end
  end
  return releasing
end
