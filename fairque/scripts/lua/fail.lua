-- fail.lua: report failed attempts; each task is retried after its backoff or buried.
-- Call     fail(prefix, default_max_attempts, n, {task_id, token, error, error_type, traceback, backoff_ms, ran_ms} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  the queue's default max_attempts (for tasks that set none)
-- ARGV[3]  n; then 7 fields per task: task_id, lease token, error message, error type,
--          traceback tail, backoff in ms ('-1' = do not retry: straight to the DLQ), run time
--          in ms as the worker measured it ('' = unknown: the lease's age is used)
-- Returns  list of outcomes: 'retry', 'dead', 'canceled' (a cancel was asked for while it
--          ran: never retried, never buried), 'stale' or 'missing'
local default_max = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local out = {}
for i = 0, n - 1 do
  local b = 4 + i * 7
  local id, token, err, etype, tb = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local backoff = tonumber(ARGV[b + 5])
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'token', 'user', 'att', 'max_att', 'pri', 'worker',
    'deadline', 'cancel', 'w', 'handler')
  local refused = ack_refused(f[1], f[2], token, f[8])
  if refused then
    out[#out + 1] = refused
  elseif f[9] then  -- canceled while it ran: what it raised is kept to read
    redis.call('HSET', tk, 'error', err, 'etype', etype, 'tb', tb)
    end_canceled(id, tk, f[9], f[10])
    lease_ended(id, f[3], ARGV[b + 6], true)
    out[#out + 1] = 'canceled'
  else
    local att = tonumber(f[4]) or 1
    local max_att = tonumber(f[5]) or default_max
    count('failed')
    redis.call('HSET', tk, 'error', err, 'etype', etype, 'tb', tb)
    redis.call('HDEL', tk, 'token')
    local pri = tonumber(f[6])
    if backoff >= 0 and att < max_att and pri then
      count('retried')
      if backoff == 0 then
        make_ready(id, f[3], pri)
      else
        local due = NOW_MS + backoff
        redis.call('HSET', tk, 'state', 'delayed', 'due', istr(due))
        redis.call('ZADD', K.delayed(), istr(due), id)
      end
      task_event(id, f[10], 'state', 'retry', 'error', err)
      tail_event('failed', id, f[3], f[11], err)
      out[#out + 1] = 'retry'
    else
      bury(id, tk, err, etype, tb, f[7])
      if etype == 'CorruptTask' then count('corrupt') end
      out[#out + 1] = 'dead'
    end
    lease_ended(id, f[3], ARGV[b + 6], true)
  end
end
-- A task buried here cancels (or releases) the tasks that wait on it: a bounded slice now.
if release_dependents(RELEASE_BUDGET) then wake_pool('_') end
flush_tail()
return out
