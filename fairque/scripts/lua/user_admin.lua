-- user_admin.lua: pause, resume, boost or unboost one user.
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  'pause', 'resume', 'boost' or 'unboost'
-- ARGV[3]  user id
-- ARGV[4]  boost: the temporary weight
-- ARGV[5]  boost: how long it lasts, in ms
-- Returns  1 if something changed, else 0
local op, user = ARGV[2], ARGV[3]
if op == 'pause' then
  if redis.call('SADD', K.paused(), user) == 0 then return 0 end
  leave_round_robin(user)
  return 1
elseif op == 'resume' then
  -- Resuming a quarantined user says its keys were repaired; if not, pop quarantines again.
  redis.call('HDEL', K.quarantine(), user)
  if redis.call('SREM', K.paused(), user) == 0 then return 0 end
  activate(user)
  return 1
end
-- boost / unboost: rewrite the user's settings entry, keeping the configured weight underneath.
local raw = redis.call('HGET', K.settings(), user) or (fstr(default_weight()) .. '|0')
local base = string.match(raw, '^([^|]*|[^|]*)') or raw
if op == 'boost' then
  redis.call('HSET', K.settings(), user,
    base .. '|' .. ARGV[4] .. '|' .. istr(NOW_MS + tonumber(ARGV[5])))
  return 1
elseif op == 'unboost' then
  if base == raw then return 0 end
  redis.call('HSET', K.settings(), user, base)
  return 1
end
return redis.error_reply('unknown operation ' .. op)
