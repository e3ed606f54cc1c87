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
local worker = ARGV[3]
local lease_ms = ARGV[4] + 0  -- a number: parsed once (tonumber: twice)
local want = ARGV[5] + 0
local promote_max = ARGV[6] + 0
local DEADLINE_S = istr(NOW_MS + lease_ms)  -- every lease of this pop ends then
local report_view = ARGV[14] ~= nil and ARGV[14] ~= ''
local vt_floor = tonumber(ARGV[14]) or 0

-- The popper's scope (HOME_SPEC, STEAL_SPEC: every pool unless its registration says).
if worker ~= '-' then
  local fp
  fp, HOME_SPEC, STEAL_SPEC = string.match(redis.call('HGET', K.scope(), worker) or '',
    '^([^|]*)|([^|]*)|([^|]*)$')
  if fp ~= ARGV[7] then return 'register' end
end
start_pop(ARGV)

-- 1. Expired leases become failed attempts (a crashed worker's tasks come back), idle users
-- are forgotten, throttled users whose token is due come back, due delayed tasks turn ready.
local releasing = maintain(promote_max, worker)

-- What the dispatches add up, written once at the pop's end: the index of leases (deadline,
-- id pairs) and the counts of stolen and over-cap dispatches.
local INFLIGHT = {}
local STOLEN, OVER_CAP = 0, 0

-- 2. Pick fairly and lease, up to `want` tasks (the picking and taking: dispatch.lua).
local out = {}
local vt = nil
local guard = want * 4 + 8  -- bounds the loop even if indexes disagree with the queues
while #out < want and guard > 0 do
  guard = guard - 1
  local stolen = 0
  local user, pass, pool, t, tpass = lowest(HOME_SPEC)
  if not user and STEAL_SPEC ~= '' then
    user, pass, pool, t, tpass = lowest(STEAL_SPEC)
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
    local counted = tonumber(redis.call('ZSCORE', K.ubacklog(), user) or '0')
    redis.call('ZREM', K.ubacklog(), user)
    if counted > 0 then redis.call('HINCRBY', K.backlog(), '*', -counted) end
    redis.call('HDEL', K.backlog(), user .. '|1', user .. '|2', user .. '|3',
      user .. '|4', user .. '|5', user .. '|6')
  else
    local tk = K.task(id)
    -- One read of every field a dispatch needs (the later writes touch none of them). Each
    -- field asked for is a search of the task's fields: no more than these.
    local f = redis.call('HMGET', tk, 'user', 'pri', 'payload', 'att', 'handler', 'max_att',
      'created', 'trace', 'cost', 'state')
    local pri = PRI_OF[f[2]] or tonumber(f[2])
    local weight, cap = user_cfg(user)
    local dispatched = false
    local left = nil  -- the user's ready tasks after this one
    if not (f[1] or f[2] or f[3] or f[4] or f[5]) then
      taken(user, queued_pri)
      count('phantom')  -- an index entry whose task hash is gone
    elseif f[10] == 'canceled' then
      taken(user, queued_pri)  -- canceled, its entry left behind (cancel.lua removes it)
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
      if pool == SOLO and SOLO_WRITES == IDX_WRITES then
        KNOWN_POOL, KNOWN_R = pool, redis.call('ZRANGE', K.ready(pool), 0, 0, 'WITHSCORES')
        STALE = pool
      else
        KNOWN_POOL, KNOWN_R = pool, idx_fix(pool)
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
-- A pop that filled its ask leaves work behind, likely: pass the wake-up on to the next idle
-- worker of the pool that has it (roundrobin.lua: wake_pool).
if #out == want then
  local head = redis.call('ZRANGE', K.readyidx(), 0, 0)[1]
  if head then wake_pool(head) end
end
-- Ends of parents are left to pass on (a wide fan-in, a bounded slice per call): wake a
-- worker of the popper's first pool (itself, likely) to pop again at once rather than after
-- its idle wait.
if releasing then
  local home = HOME_SPEC or '*'
  wake_pool(home == '*' and '_' or string.match(home, '^[^,]+') or '_')
end
if STOLEN > 0 then count('stolen', STOLEN) end
if OVER_CAP > 0 then count('over_cap', OVER_CAP) end
flush_waits()
flush_backlog()
flush_tail()
if report_view then
  local head = redis.call('ZRANGE', K.readyidx(), 0, 0, 'WITHSCORES')
  out[#out + 1] = {'', head[2] or '', redis.call('HGET', K.meta(), 'vt') or '0'}
end
return out
