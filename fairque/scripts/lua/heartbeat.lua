-- heartbeat.lua: extend the leases a worker still holds.
-- Call     heartbeat(prefix, lease_ms, n, {task_id, token} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  lease length in ms, counted from now
-- ARGV[3]  n; then 2 fields per task: task_id, lease token
-- Returns  list of new deadlines in ms, or 0 where the lease was lost (expired, reassigned);
--          a deadline is negative where a cancel of the task was asked for (its worker
--          learns of it here too, should it have missed the word in its cancels list)
local lease_ms = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local out = {}
for i = 0, n - 1 do
  local id, token = ARGV[4 + i * 2], ARGV[5 + i * 2]
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'token', 'deadline', 'cancel')
  if lease_held(f[1], f[2], token, f[3]) then
    local deadline = NOW_MS + lease_ms
    redis.call('HSET', tk, 'deadline', istr(deadline))
    redis.call('ZADD', K.inflight(), istr(deadline), id)
    out[#out + 1] = f[4] and -deadline or deadline
  else
    out[#out + 1] = 0
  end
end
return out
