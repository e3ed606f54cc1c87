-- sched_advance.lua: record the newest fire time enqueued for schedules; never moves back,
-- so a scheduler that lost the lead cannot rewind what the leader did.
-- Call     sched_advance(prefix, name_fire_ms...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2..] pairs: schedule name, fire time in ms
-- Returns  the server time in ms
for i = 2, #ARGV, 2 do
  local last = tonumber(redis.call('HGET', K.sched_last(), ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > last then redis.call('HSET', K.sched_last(), ARGV[i], ARGV[i + 1]) end
end
return NOW_MS
