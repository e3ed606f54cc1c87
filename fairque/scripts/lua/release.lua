-- release.lua: hand leased tasks back unfinished (graceful shutdown): ready again at once,
-- and the attempt does not count.
-- Call     release(prefix, n, {task_id, token} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  n; then 2 fields per task: task_id, lease token
-- Returns  list of outcomes: 'ok', 'canceled' (its cancel was asked for: canceled now, not
--          ready), 'stale' or 'missing'
local n = tonumber(ARGV[2])
local out = {}
for i = 0, n - 1 do
  local id, token = ARGV[3 + i * 2], ARGV[4 + i * 2]
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'token', 'user', 'att', 'pri', 'cancel', 'w',
    'handler')
  local pri = tonumber(f[5])
  if not f[1] then
    out[#out + 1] = 'missing'
  elseif f[1] ~= 'leased' or f[2] ~= token or not pri then
    out[#out + 1] = 'stale'
  elseif f[6] then
    end_canceled(id, tk, f[6], f[7])
    lease_ended(id, f[3], 0, false)
    out[#out + 1] = 'canceled'
  else
    redis.call('HSET', tk, 'att', istr(math.max((tonumber(f[4]) or 1) - 1, 0)))
    redis.call('HDEL', tk, 'token')
    lease_ended(id, f[3], 0, false)  -- not run: nothing charged
    make_ready(id, f[3], pri)
    count('released')
    tail_event('requeued', id, f[3], f[8], 'handed back unfinished')
    out[#out + 1] = 'ok'
  end
end
flush_tail()
return out
