-- retry_now.lua: make delayed tasks due now (a retry waiting out its backoff, a push with a
-- delay): the next pop promotes them, and an idle worker is woken for it.
-- Call     retry_now(prefix, task_id...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2..] task ids
-- Returns  list of outcomes: 'ok', or the task's state when it is not delayed ('missing'
--          when it is unknown here)
local out = {}
local moved = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local state = redis.call('HGET', K.task(id), 'state')
  if not state then
    out[#out + 1] = 'missing'
  elseif state ~= 'delayed' or not redis.call('ZSCORE', K.delayed(), id) then
    out[#out + 1] = state
  else
    redis.call('ZADD', K.delayed(), NOW_MS_S, id)
    redis.call('HSET', K.task(id), 'due', NOW_MS_S)
    moved = moved + 1
    out[#out + 1] = 'ok'
  end
end
if moved > 0 then
  count('retried_now', moved)
  wake_pool('_')
end
return out
