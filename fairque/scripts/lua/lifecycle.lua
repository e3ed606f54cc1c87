-- lifecycle.lua: counters, idleness, leases ending, the DLQ, enqueueing and reaping
-- (composed into the scripts after charges.lua).

-- The enqueue clock (µs, server time). FIFO order comes from the lists themselves; the clock
-- is only compared across priorities (aging) and read for ages, so equal values are harmless.
local function next_seq()
  return NOW_US
end

-- The queue-wide ready count ('*') only adds up: a script that takes many tasks changes it
-- once, at its end (flush_backlog), instead of once per task.
local QUEUED_DELTA = 0
local function flush_backlog()
  if QUEUED_DELTA ~= 0 then redis.call('HINCRBY', K.backlog(), '*', QUEUED_DELTA) end
  QUEUED_DELTA = 0
end

-- One ready task of a user left its queue: returns how many the user has left.
local function backlog_dec(user, pri)
  local left = redis.call('ZINCRBY', K.ubacklog(), -1, user) + 0  -- a number: parsed once
  if left <= 0 then
    redis.call('ZREM', K.ubacklog(), user)
    left = 0
  end
  QUEUED_DELTA = QUEUED_DELTA - 1
  local f = user .. '|' .. (PRI_NAME[pri] or pri)
  if redis.call('HINCRBY', K.backlog(), f, -1) <= 0 then redis.call('HDEL', K.backlog(), f) end
  return left
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

-- Why an acknowledgement is refused: 'missing' (no such task), 'stale' (the lease is lost or
-- past its deadline; counted), or nil when the caller holds the lease.
local function ack_refused(state, held_token, token, deadline)
  if not state then return 'missing' end
  if lease_held(state, held_token, token, deadline) then return nil end
  count('stale_acks')
  return 'stale'
end

-- A user with nothing queued and nothing in flight is idle: its per-user state is forgotten
-- idle_ms() later (sweep_idle), unless it has work again by then.
local function note_if_idle(user)
  if pending_count(user) == 0 and not redis.call('HGET', K.uinflight(), user) then
    redis.call('ZADD', K.idle(), NOW_MS_S, user)
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
        forget_user_cfg()
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

-- The slots of many users freed at once: the users whose count reaches zero lose it in one
-- removal, and have their backlogs looked at in one read, rather than two more calls each
-- (an ack of 8 tasks of 8 users whose last lease it was: 11 calls, not 24).
local function slots_freed_all(users, by_user)
  local emptied = {}
  for i = 1, #users do
    local user = users[i]
    if redis.call('HINCRBY', K.uinflight(), user, -by_user[user]) <= 0 then
      emptied[#emptied + 1] = user
    end
  end
  -- Lua passes at most about 8,000 values to one call: 1,000 users at a time.
  for s = 1, #emptied, 1000 do
    local some = {unpack(emptied, s, math.min(s + 999, #emptied))}
    redis.call('HDEL', K.uinflight(), unpack(some))
    -- Nothing in flight any more: idle too when nothing is queued (note_if_idle, for all).
    local queued = redis.call('ZMSCORE', K.ubacklog(), unpack(some))
    local idle = {}
    for i = 1, #some do
      if not queued[i] or queued[i] + 0 == 0 then
        idle[#idle + 1] = NOW_MS_S
        idle[#idle + 1] = some[i]
      end
    end
    if #idle > 0 then redis.call('ZADD', K.idle(), unpack(idle)) end
  end
  if flags().no_caps then return end
  for i = 1, #users do
    local _, cap = user_cfg(users[i])
    if cap > 0 then activate(users[i]) end
  end
end

-- A user's leases ended: free its in-flight slots and, for a capped user, let it back into
-- the round-robin.
local function slots_freed(user, n)
  slots_freed_all({user}, {[user] = n})
end

-- A script that ends many leases may gather them in ENDED (a table it sets) and write them
-- at its end with flush_ended: one removal from the index of leases for all, and the slots
-- of all their users freed together. Nil: each is written at once.
local ENDED = nil
local ENDED_BY = nil  -- user -> its leases ended in this call (with ENDED)
local ENDED_USERS = nil  -- ENDED_BY's users, in the order they first ended a lease
local function flush_ended()
  call_in_chunks('ZREM', K.inflight(), ENDED)
  slots_freed_all(ENDED_USERS, ENDED_BY)
  ENDED, ENDED_BY, ENDED_USERS = nil, nil, nil
end

-- A lease ended (complete, fail, expiry, release): settle a charge by run time, then free
-- the user's slot (at once, or with the others at the script's end: ENDED).
local function lease_ended(task_id, user, ran_ms, learn, known)
  settle_charge(task_id, ran_ms, learn, known)
  if ENDED then
    ENDED[#ENDED + 1] = task_id
    local before = ENDED_BY[user]
    if not before then ENDED_USERS[#ENDED_USERS + 1] = user end
    ENDED_BY[user] = (before or 0) + 1
  else
    redis.call('ZREM', K.inflight(), task_id)
    slots_freed(user, 1)
  end
end

-- Move a task into the DLQ with its error. Past the DLQ's cap the oldest entries are
-- dropped, and counted: the cap is never silent.
local function bury(task_id, tk, err, etype, tb, worker)
  redis.call('HSET', K.task(task_id), 'state', 'dead', 'error', err, 'etype', etype or '',
    'tb', tb or '', 'finished', NOW_MS_S, 'dworker', worker or '')
  redis.call('ZADD', K.dlq(), NOW_MS_S, task_id)
  count('dead')
  local f = redis.call('HMGET', K.task(task_id), 'w', 'k', 'user', 'uk', 'handler')
  task_event(task_id, f[1], 'state', 'dead')
  tail_event('dead', task_id, f[3], f[5], err)
  task_ended(task_id, 'd', f[2], f[3], f[4], nil)
  local cap = tonumber(redis.call('HGET', K.settings(), '#dlq_max') or '') or DEFAULT_DLQ_MAX
  local excess = redis.call('ZCARD', K.dlq()) - cap
  if excess > 0 then
    local dropped = redis.call('ZPOPMIN', K.dlq(), excess)
    for i = 1, #dropped, 2 do redis.call('DEL', K.task(dropped[i])) end
    count('dlq_dropped', excess)
  end
end

-- A task whose cancel was asked for while it ran ends canceled, whatever its lease's end
-- (an ack, a failure, an expiry, a hand back): never retried, never in the DLQ. `mark` is
-- its 'cancel' field, "who|when ms|ttl ms": the task stays readable for that TTL.
local function end_canceled(task_id, tk, mark, watched)
  local who = string.match(mark or '', '^([^|]*)')
  local ttl = tonumber(string.match(mark or '', '|(%d+)$')) or 86400000
  redis.call('HSET', tk, 'state', 'canceled', 'finished', NOW_MS_S)
  redis.call('HDEL', tk, 'token')
  redis.call('PEXPIRE', tk, ttl)
  count('canceled')
  task_event(task_id, watched, 'state', 'canceled')
  local f = redis.call('HMGET', tk, 'k', 'user', 'uk', 'handler')
  tail_event('canceled', task_id, f[2], f[4], who)
  task_ended(task_id, 'x', f[1], f[2], f[3], ttl)
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
-- seq being when it became ready in µs (the enqueue clock, or the due time of a promoted
-- task): it gives the oldest age per user and priority, and each dispatch's wait.
-- The state must be set by the caller. Returns true when this made the user's queues
-- non-empty, i.e. the user may need activating. A queue key of the wrong type buries the
-- task (with the reason) and quarantines the user instead.
local function enqueue_ready(task_id, user, pri, since_us)
  pri = PRI_NAME[pri] or pri
  local lk = K.prio(user, pri)
  local bad = wrong_type(lk)
  if bad then
    local why = 'corrupt: queue key ' .. lk .. ' holds a ' .. bad
    quarantine(user, why)
    bury(task_id, nil, why, 'CorruptQueue', '', '')
    return false
  end
  local seq = istr(since_us or next_seq())
  redis.call('RPUSH', lk, seq .. '|' .. task_id)
  redis.call('HSET', K.task(task_id), 'seq', seq)
  redis.call('HINCRBY', K.backlog(), user .. '|' .. pri, 1)
  redis.call('HINCRBY', K.backlog(), '*', 1)
  return tonumber(redis.call('ZINCRBY', K.ubacklog(), 1, user)) == 1
end

-- Make a waiting task ready now (promotion of a due delayed task, immediate retry); a
-- promoted task has been ready since it was due (since_us).
local function make_ready(task_id, user, pri, since_us)
  redis.call('HSET', K.task(task_id), 'state', 'ready')
  if enqueue_ready(task_id, user, pri, since_us) then activate(user, 1) end
end

-- Retry policy (set by scripts that may retry: fail uses the client's jittered backoff,
-- reaping uses this deterministic one).
local RETRY_BASE_MS, RETRY_FACTOR, RETRY_CAP_MS, DEFAULT_MAX_ATT = 1000, 2, 300000, 3

-- Return leases whose deadline passed: each is a failed attempt ("lease expired"), retried
-- after the backoff or buried when its attempts are used up. Bounded per call.
local function reap_expired(limit)
  local ids = redis.call('ZRANGEBYSCORE', K.inflight(), '-inf', NOW_MS_S, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local tk = K.task(id)
    local f = redis.call('HMGET', tk, 'state', 'user', 'att', 'max_att', 'pri', 'worker',
      'cancel', 'w', 'handler')
    if f[1] ~= 'leased' or not f[2] then
      redis.call('ZREM', K.inflight(), id)  -- an index entry that outlived its lease
    elseif f[7] then  -- canceled while it ran, and its worker is gone: canceled now
      count('expired')
      end_canceled(id, tk, f[7], f[8])
      lease_ended(id, f[2], nil, false)
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
        task_event(id, f[8], 'state', 'retry', 'error', err)
        tail_event('failed', id, f[2], f[9], err)
      else
        bury(id, tk, err, 'LeaseExpired', '', f[6])
      end
      lease_ended(id, f[2], nil, false)
    end
  end
  return #ids
end
