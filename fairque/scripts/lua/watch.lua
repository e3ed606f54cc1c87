-- watch.lua: a task's fields, and a wait armed on it while it has not ended: from this call
-- on, what becomes of it is appended to its event stream (events.lua), which the caller
-- reads with a blocking XREAD from the id returned here, so nothing is missed in between.
-- Call     watch(prefix, task_id)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  task id
-- Returns  'missing', or {the id of the task's newest event ('0-0': none yet), the task hash
--          as a flat list of fields and values}
local id = ARGV[2]
local tk = K.task(id)
local state = redis.call('HGET', tk, 'state')
if not state then return 'missing' end
if state ~= 'completed' and state ~= 'dead' and state ~= 'canceled' then
  redis.call('HSET', tk, 'w', '1')
end
local last = redis.call('XREVRANGE', K.events(id), '+', '-', 'COUNT', 1)
return {last[1] and last[1][1] or '0-0', redis.call('HGETALL', tk)}
