-- purge.lua: delete dead tasks from the DLQ for good.
-- Call     purge(prefix, task_id...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2..] task ids
-- Returns  how many were in the DLQ and are now gone
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', K.dlq(), ARGV[i]) == 1 then
    redis.call('DEL', K.task(ARGV[i]))
    n = n + 1
  end
end
if n > 0 then count('purged', n) end
return n
