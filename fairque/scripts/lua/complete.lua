-- complete.lua: acknowledge finished tasks (one call acknowledges many).
-- Call     complete(prefix, result_ttl_ms, n, {task_id, token, result, ran_ms} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  result TTL in ms (how long the finished task and its result stay readable)
-- ARGV[3]  n; then 4 fields per task: task_id, lease token, result JSON ('' = none), run time
--          in ms as the worker measured it ('' = unknown: the lease's age is used)
--          Dependents of the tasks it completes are released in the same call (up to a
--          bounded number; pops pass the rest on).
-- Returns  list of outcomes: 'ok', 'canceled' (a cancel was asked for while it ran: it ends
--          canceled, its result kept), 'stale' (lease lost or past its deadline; nothing
--          changed) or 'missing'
local ttl = ARGV[2] + 0  -- a number: parsed once (tonumber: twice)
local n = ARGV[3] + 0
local out = {}
local done = 0
ENDED, ENDED_BY, ENDED_USERS = {}, {}, {}  -- the leases are written off together, at the end
for i = 0, n - 1 do
  local b = 4 + i * 4
  local id, token, result = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'token', 'user', 'deadline', 'chg', 'started',
    'cancel', 'w', 'k', 'uk', 'handler')
  local refused = ack_refused(f[1], f[2], token, f[4])
  if refused then
    out[#out + 1] = refused
  elseif f[7] then  -- canceled while it ran: the cancel wins, the result is kept to read
    redis.call('HSET', tk, 'result', result)
    end_canceled(id, tk, f[7], f[8])
    lease_ended(id, f[3], ARGV[b + 3], true, f[5] and {f[5], f[6], f[3]} or NOTHING)
    out[#out + 1] = 'canceled'
  else
    redis.call('HSET', tk, 'state', 'completed', 'finished', NOW_MS_S, 'result', result)
    redis.call('PEXPIRE', tk, ttl)
    -- A dispatch charged by count has no 'chg' to settle: nothing to pass on then.
    lease_ended(id, f[3], ARGV[b + 3], true, f[5] and {f[5], f[6], f[3]} or NOTHING)
    task_event(id, f[8], 'state', 'completed')
    tail_event('completed', id, f[3], f[11], ARGV[b + 3])
    if f[9] or f[10] then task_ended(id, 'c', f[9], f[3], f[10], ttl) end
    done = done + 1
    out[#out + 1] = 'ok'
  end
end
flush_ended()
if done > 0 then count('completed', done) end
-- Dependents of the tasks completed here are released now (a bounded slice; pops release
-- the rest): the last parent's acknowledgement is the call that makes its child ready.
if release_dependents(RELEASE_BUDGET) then wake_pool('_') end
flush_tail()
return out
