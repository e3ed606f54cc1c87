-- drain.lua: cancel a user's ready tasks, a bounded chunk per call, returning each drained
-- task so the caller can export it (canceled tasks stay readable for the result TTL).
-- Call     drain(prefix, user, priorities, limit, ttl_ms)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  user id
-- ARGV[3]  priorities to drain, comma-separated (e.g. "6,5,4,3,2,1" or "3")
-- ARGV[4]  the most tasks to drain in this call
-- ARGV[5]  TTL of the canceled tasks in ms
-- Returns  list of drained tasks, each a flat list of the task hash's fields and values, then
--          'id' and the task id
local user, limit, ttl = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for p in string.gmatch(ARGV[3], '%d') do
  local pri = tonumber(p)
  while #out < limit do
    local entry = redis.call('LPOP', K.prio(user, pri))
    if not entry then break end
    local id = string.match(entry, '^%d+|(.+)$')
    local tk = K.task(id)
    backlog_dec(user, pri)
    if redis.call('EXISTS', tk) == 1 then
      redis.call('HSET', tk, 'state', 'canceled', 'finished', NOW_MS_S)
      redis.call('PEXPIRE', tk, ttl)
      local f = redis.call('HMGET', tk, 'w', 'k', 'uk', 'handler')
      task_event(id, f[1], 'state', 'canceled')
      tail_event('canceled', id, user, f[4], 'drained')
      task_ended(id, 'x', f[2], user, f[3], ttl)
      local row = redis.call('HGETALL', tk)
      row[#row + 1] = 'id'  -- the key's tail: a task hash does not repeat it
      row[#row + 1] = id
      out[#out + 1] = row
      count('canceled')
    end
  end
end
flush_backlog()
if pending_count(user) == 0 then leave_round_robin(user) end
flush_tail()
return out
