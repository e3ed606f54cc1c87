-- requeue.lua: put dead tasks (DLQ) back to ready, keeping their ids, attempts reset.
-- Call     requeue(prefix, task_id...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2..] task ids
-- Returns  list of outcomes: 'ok', or 'missing' where the id is not in the DLQ
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local f = redis.call('HMGET', K.task(id), 'user', 'pri', 'state', 'handler')
  local pri = tonumber(f[2])
  if redis.call('ZREM', K.dlq(), id) == 1 and f[1] and pri and f[3] == 'dead' then
    redis.call('HSET', K.task(id), 'att', '0', 'requeued', NOW_MS_S)
    redis.call('HDEL', K.task(id), 'finished', 'due')
    make_ready(id, f[1], pri)
    count('requeued')
    tail_event('requeued', id, f[1], f[4], 'from the DLQ')
    out[#out + 1] = 'ok'
  else
    out[#out + 1] = 'missing'
  end
end
flush_tail()
return out
