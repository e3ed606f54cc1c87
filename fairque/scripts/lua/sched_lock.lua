-- sched_lock.lua: the schedulers' leader lock (acquire or renew, and release), checked by token.
-- Call     sched_lock(prefix, action, token, ttl_ms)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  'hold' (acquire, or renew if we hold it) or 'release'
-- ARGV[3]  this scheduler's token
-- ARGV[4]  lock TTL in ms (for 'hold')
-- Returns  1 if this scheduler holds the lock after the call ('hold') / released it, else 0
local lk = K.sched_lock()
local token = ARGV[3]
if ARGV[2] == 'release' then
  if redis.call('GET', lk) == token then redis.call('DEL', lk) return 1 end
  return 0
end
if redis.call('SET', lk, token, 'NX', 'PX', ARGV[4]) then return 1 end
if redis.call('GET', lk) == token then
  redis.call('PEXPIRE', lk, ARGV[4])
  return 1
end
return 0
