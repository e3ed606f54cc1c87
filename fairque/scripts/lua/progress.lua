-- progress.lua: record how far running tasks are (a worker sends its handlers' latest
-- reports, coalesced), for readers and for producers that wait on them.
-- Call     progress(prefix, n, {task_id, token, fraction, note} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  n; then 4 fields per task: task_id, lease token, fraction done (0..1, '' = not
--          given), note (JSON, '' = none)
-- Returns  list of outcomes: 'ok', or 'stale' where the lease is not held (nothing written)
local n = tonumber(ARGV[2])
local out = {}
for i = 0, n - 1 do
  local b = 3 + i * 4
  local id, token, fraction, note = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'token', 'deadline', 'w')
  if lease_held(f[1], f[2], token, f[3]) then
    redis.call('HSET', tk, 'prog', fraction, 'pnote', note, 'pat', NOW_MS_S)
    task_event(id, f[4], 'progress', fraction, 'note', note)
    out[#out + 1] = 'ok'
  else
    out[#out + 1] = 'stale'
  end
end
return out
