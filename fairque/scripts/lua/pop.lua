-- pop.lua: reap expired leases and promote due delayed tasks (both bounded), then lease up
-- to `count` tasks picked fairly.
-- Call     pop(prefix, aging_us, worker_id, lease_ms, count, promote_batch, registration_fp, retry_base_ms, retry_factor, retry_cap_ms, default_max_attempts, nonce, steal_after_us, vt_floor)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  aging in µs
-- ARGV[3]  worker id (recorded in the lease)
-- ARGV[4]  lease length in ms (visibility timeout)
-- ARGV[5]  count: the most tasks to lease
-- ARGV[6]  promote batch: the most due delayed tasks to promote in this call
-- ARGV[7]  the worker's registration fingerprint ('' for a popper without a worker id)
-- ARGV[8]  retry policy for expired leases: base ms, factor, cap ms, default max attempts
--          (ARGV[8..11])
-- ARGV[13] steal after (µs): work of a user that some worker is assigned is stolen only once
--          it has waited this long (its own workers get the first chance); 0 = at once
-- ARGV[12] a random nonce from the client: lease tokens are "<sequence>.<nonce>", so they are
--          both ordered (a fencing token, the global dispatch order) and unguessable
-- ARGV[14] virtual-time floor ('' unless the popper picks partitions fairly): the global
--          virtual time as the popper saw it, the lowest head pass among the partitions with
--          work, so no backlogged user is below it. A user whose pass is below it entered
--          this partition while the partition lagged (idle): it is charged from the floor,
--          and the partition's virtual time is raised to it, so users enter at the global
--          time. When given, the reply ends with one more row: {'', head pass or '', vt},
--          this partition's lowest ready pass and virtual time after the pop
-- Returns  list of tasks, each one string of 13 fields joined by NUL bytes (one reply value
--          per task: a nested list costs the server more to send): task_id, token, user,
--          priority, attempt, max_attempts, created_ms, deadline_ms, stolen (1/0), waited ms
--          (since it became ready: pushed, due, or requeued), handler, trace context
--          ('' = none), and last the payload (JSON, which holds no NUL byte; the id and the
--          token, first, never do); or the string 'register' (nothing done) when the
--          worker's registration is missing or differs: the worker registers (register.lua)
--          and pops again.
local aging_us = tonumber(ARGV[2])
local worker = ARGV[3]
local lease_ms = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local promote_max = tonumber(ARGV[6])
local DEADLINE_S = istr(NOW_MS + lease_ms)  -- every lease of this pop ends then
local steal_after_us = tonumber(ARGV[13]) or 0
local report_view = ARGV[14] ~= nil and ARGV[14] ~= ''
local vt_floor = tonumber(ARGV[14]) or 0
RETRY_BASE_MS, RETRY_FACTOR = tonumber(ARGV[8]), tonumber(ARGV[9])
RETRY_CAP_MS, DEFAULT_MAX_ATT = tonumber(ARGV[10]), tonumber(ARGV[11])

-- The popper's scope, as its registration left it: home pools, then the pools it may steal
-- from ('*': any pool). A popper without a worker id serves every pool.
local home_spec, steal_spec = '*', ''
if worker ~= '-' then
  local fp
  fp, home_spec, steal_spec = string.match(redis.call('HGET', K.scope(), worker) or '',
    '^([^|]*)|([^|]*)|([^|]*)$')
  if fp ~= ARGV[7] then return 'register' end
end

-- 1. Expired leases become failed attempts (a crashed worker's tasks come back).
reap_expired(promote_max)
sweep_idle(SWEEP_BATCH)  -- per-user state of users idle past the retention
wake_throttled(promote_max)  -- rate-limited users whose next token is due

-- Then promote due delayed tasks (bounded; the rest wait for the next pop).
local due = redis.call('ZRANGEBYSCORE', K.delayed(), '-inf', NOW_MS_S, 'LIMIT', 0, promote_max)
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

-- 2. Fair pick: the lowest entry over the home pools, else over the steal pools. An entry is
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
local known_pool, known_r = nil, nil
-- While the index of pools holds one pool (the usual case: no worker is assigned users),
-- its order decides nothing: a dispatch leaves the index as it is and the pop sets its
-- score once, at its end (settle_index). `solo` is that pool, valid while the index saw no
-- other write in this call (IDX_WRITES); `stale` the pool whose score waits.
local solo, solo_writes, stale = nil, -1, nil
local function settle_index()
  if stale then idx_fix(stale) end
  stale = nil
end

local function lowest(spec)
  if spec == '' then return nil end
  local entry, score, pool
  local head_pool, head_r = known_pool, known_r
  known_pool, known_r = nil, nil
  if spec == '*' then  -- any pool: the index of pools by their lowest pass
    if not (solo and solo_writes == IDX_WRITES) then
      settle_index()  -- the index is read for its order now: every score exact
      local r = redis.call('ZRANGE', K.readyidx(), 0, 1)
      if not r[1] then return nil end
      solo = r[1]
      if r[2] then solo = nil end
      solo_writes = IDX_WRITES
      pool = r[1]
    end
    pool = pool or solo
    local u
    if head_pool == pool then u = head_r else
      u = redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
    end
    if not u[1] then  -- an index entry that outlived its pool's users: repair, look again
      if stale == pool then stale = nil end
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
      local score = tonumber(string.match(head, '^(%d+)|')) - p * aging_us
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
local READY = {}  -- user -> its ready count per priority, as read and taken since
local LEFT = {}   -- user -> its ready count in all after its last dispatch
local OWED = {}   -- user -> what its later dispatches took: per priority, [7] in all, [8] leased
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
local WAITS = {}  -- histogram increments of this pop: bucket (or sum_ms) -> n
-- user -> this pop's wait samples (one: the string; more: a list, oldest first), and the users
local SAMPLES, SAMPLED = {}, {}
-- The samples list is trimmed back to 100 once it holds 150 (readers take the newest 100),
-- and has no TTL: it goes with the rest of the user's state when the user has been idle for
-- the retention (sweep_idle).
local WAIT_KEEP = 100
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
  if steal_after_us <= 0 or pool == '_' then return true end
  local named = redis.call('HGET', K.named(), user)
  if not named or string.sub(named, 1, 1) == '|' then return true end
  local oldest
  for p = 6, 1, -1 do
    local head = read('LINDEX', K.prio(user, p), 0)
    local seq = head and tonumber(string.match(head, '^(%d+)|'))
    if seq and (not oldest or seq < oldest) then oldest = seq end
  end
  return not oldest or NOW_US - oldest >= steal_after_us
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
    if in_spec(home_spec, pool) then return r[i], tonumber(r[i + 1]), pool, 0 end
    if in_spec(steal_spec, pool) then return r[i], tonumber(r[i + 1]), pool, 1 end
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

-- What the dispatches add up, written once at the pop's end: the index of leases (deadline,
-- id pairs) and the counts of stolen and over-cap dispatches.
local INFLIGHT = {}
local STOLEN, OVER_CAP = 0, 0

local out = {}
local vt = nil
local guard = want * 4 + 8  -- bounds the loop even if indexes disagree with the queues
while #out < want and guard > 0 do
  guard = guard - 1
  local stolen = 0
  local user, pass, pool, t, tpass = lowest(home_spec)
  if not user and steal_spec ~= '' then
    user, pass, pool, t, tpass = lowest(steal_spec)
    stolen = 1
    if user and not may_steal(user, pool) then break end
  end
  local soft = false
  if not user then
    user, pass, pool, stolen = lowest_soft()
    soft = user ~= nil
  end
  if not user then break end
  -- The queue-level pass: the tenant's, or the user's own when it has no tenant. One below
  -- the floor entered while this partition lagged.
  local top = tpass or pass
  if top < vt_floor then top = vt_floor end
  if not t then pass = top end
  local throttled = limits_on() and throttle(user, pass, pool, t, soft)
  local id, queued_pri, bad_key, seq
  if not throttled then id, queued_pri, bad_key, seq = take(user) end
  if throttled then
    -- out of the round-robin until its token (counted as 'throttled'); pick again
  elseif bad_key then
    settle(user)
    quarantine(user, 'corrupt: queue key ' .. bad_key .. ' holds a ' .. wrong_type(bad_key))
  elseif not id then
    -- Indexed as ready but nothing queued: repair the index and the counters, pick again.
    settle(user)
    rr_leave(pool, user, pass)
    redis.call('ZREM', K.soft(), user)
    note_if_idle(user)
    local stale = tonumber(redis.call('ZSCORE', K.ubacklog(), user) or '0')
    redis.call('ZREM', K.ubacklog(), user)
    if stale > 0 then redis.call('HINCRBY', K.backlog(), '*', -stale) end
    redis.call('HDEL', K.backlog(), user .. '|1', user .. '|2', user .. '|3',
      user .. '|4', user .. '|5', user .. '|6')
  else
    local tk = K.task(id)
    -- One read of every field a dispatch needs (the later writes touch none of them). Each
    -- field asked for is a search of the task's fields: no more than these.
    local f = redis.call('HMGET', tk, 'user', 'pri', 'payload', 'att', 'handler', 'max_att',
      'created', 'trace', 'cost')
    local pri = PRI_OF[f[2]] or tonumber(f[2])
    local weight, cap = user_cfg(user)
    local dispatched = false
    local left = nil  -- the user's ready tasks after this one
    if not (f[1] or f[2] or f[3] or f[4] or f[5]) then
      taken(user, queued_pri)
      count('phantom')  -- an index entry whose task hash is gone
    elseif f[1] ~= user or not pri or pri < 1 or pri > 6 or not f[3] then
      taken(user, queued_pri)
      local what = 'missing field payload'
      if f[1] ~= user then what = 'user field does not match its queue'
      elseif not pri or pri < 1 or pri > 6 then what = 'bad priority ' .. tostring(f[2]) end
      bury(id, tk, 'corrupt: ' .. what, 'CorruptTask', '', worker)
      count('corrupt')
    else
      left = taken(user, queued_pri)
      local att = NEXT_ATTEMPT[f[4]] or istr((tonumber(f[4]) or 0) + 1)
      local token = istr(next_lease_seq(want - #out)) .. '.' .. ARGV[12]
      redis.call('HSET', tk, 'state', 'leased', 'att', att, 'token', token,
        'worker', worker, 'deadline', DEADLINE_S, 'started', NOW_MS_S)
      -- Every lease of this pop enters the index of leases in one write, at its end.
      INFLIGHT[#INFLIGHT + 1] = DEADLINE_S
      INFLIGHT[#INFLIGHT + 1] = id
      -- A capped user's count decides at once whether it stays in the round-robin.
      local held, owed = 0, OWED[user]
      if owed and cap == 0 then owed[8] = owed[8] + 1 else
        held = redis.call('HINCRBY', K.uinflight(), user, 1)
      end
      -- Waited since it became ready: pushed, due, or requeued (the entry's seq).
      local since_us = tonumber(seq) or (tonumber(f[7]) or NOW_MS) * 1000
      local wait = math.max(NOW_MS - math.floor(since_us / 1000), 0)
      local wait_s = istr(wait)
      record_wait(user, wait, wait_s)
      -- One concatenation, not table.concat: no table per dispatch.
      out[#out + 1] = id .. '\0' .. token .. '\0' .. user .. '\0' .. f[2] .. '\0' .. att .. '\0'
        .. (f[6] or '') .. '\0' .. (f[7] or '') .. '\0' .. DEADLINE_S .. '\0'
        .. (stolen == 1 and '1' or '0') .. '\0' .. wait_s .. '\0' .. (f[5] or '') .. '\0'
        .. (f[8] or '') .. '\0' .. f[3]
      if stolen == 1 then STOLEN = STOLEN + 1 end
      if soft then OVER_CAP = OVER_CAP + 1 end
      if limits_on() then spend_tokens(user, t) end
      dispatched = true
      vt = top
      -- The charge: the task's declared cost, else one turn (fairness by count) or the
      -- user's mean run time, replaced by the real run time when the lease ends (by time).
      local charge = tonumber(f[9])
      local tw = t and tenant_weight(t) or 1
      if not charge then
        if by_time() then
          charge = estimate(user)
          redis.call('HSET', tk, 'chg', fstr(charge) .. '|' .. fstr(weight) .. '|' .. (t or '')
            .. '|' .. fstr(tw))
        else
          charge = 1
        end
      end
      -- Advance the passes; the user stays in the round-robin only if it can be served again,
      -- its tenant only while one of its users is there.
      local nextp = pass + charge / weight
      local zk = t and K.tready(pool, t) or K.ready(pool)
      local more = left > 0
      if not more then
        settle(user)  -- recount reads the counters: they must hold this pop's takes first
        more = recount(user) > 0
      end
      if soft then  -- served over its cap: it stays a fallback while it has work
        if more then redis.call('ZADD', K.soft(), nextp, user) else
          redis.call('ZREM', K.soft(), user)
          redis.call('HSET', K.pass(), user, nextp)
        end
      elseif (cap == 0 or held < cap) and more then
        redis.call('ZADD', zk, nextp, user)
      else
        redis.call('ZREM', zk, user)
        if more and soft_capped(user) then
          redis.call('ZADD', K.soft(), nextp, user)
        else
          redis.call('HSET', K.pass(), user, nextp)
        end
      end
      if t then
        redis.call('HSET', K.tstate(), t .. '|vt', pass)
        if redis.call('EXISTS', zk) == 1 then
          redis.call('ZADD', K.ready(pool), top + charge / tw, '+' .. t)
        else
          redis.call('ZREM', K.ready(pool), '+' .. t)
          redis.call('HSET', K.tstate(), t, top + charge / tw)
          redis.call('SREM', K.tactive(), pool .. '|' .. t)
        end
      end
      if pool == solo and solo_writes == IDX_WRITES then
        known_pool, known_r = pool, redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
        stale = pool
      else
        known_pool, known_r = pool, idx_fix(pool)
      end
    end
    if not dispatched then
      settle(user)
      if pending_count(user) == 0 and recount(user) == 0 then
        rr_leave(pool, user, pass)
        redis.call('ZREM', K.soft(), user)
        note_if_idle(user)
      end
    end
  end
end
settle_all()
if vt_floor > 0 and (not vt or vt < vt_floor) then
  if tonumber(redis.call('HGET', K.meta(), 'vt') or '0') < vt_floor then vt = vt_floor end
end
if vt then redis.call('HSET', K.meta(), 'vt', vt) end
settle_index()
call_in_chunks('ZADD', K.inflight(), INFLIGHT)
if #out > 0 then count('popped', #out) end
if STOLEN > 0 then count('stolen', STOLEN) end
if OVER_CAP > 0 then count('over_cap', OVER_CAP) end
flush_waits()
flush_backlog()
if report_view then
  local head = redis.call('ZRANGE', K.readyidx(), 0, 0, 'WITHSCORES')
  out[#out + 1] = {'', head[2] or '', redis.call('HGET', K.meta(), 'vt') or '0'}
end
return out
