-- user_admin.lua: pause, resume, boost or unboost one user; override a user's or tenant's rate.
-- Call     user_admin(prefix, action, user, [weight_or_rate], [ms_or_burst], [end_ms])
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  'pause', 'resume', 'boost' or 'unboost'
-- ARGV[3]  user id
-- ARGV[4]  boost: the temporary weight
-- ARGV[5]  boost: how long it lasts, in ms
--          'rate' / 'unrate' (ARGV[3] a user or '+<tenant>'): ARGV[4] tasks per second ('' =
--          no limit while the override lasts), ARGV[5] burst, ARGV[6] end in ms from now
--          ('' = until unrate)
-- Returns  1 if something changed, else 0
local op, user = ARGV[2], ARGV[3]
if op == 'rate' or op == 'unrate' then
  if op == 'rate' then
    local untl = ARGV[6] ~= '' and istr(NOW_MS + tonumber(ARGV[6])) or ''
    redis.call('HSET', K.rlover(), user, ARGV[4] .. '|' .. ARGV[5] .. '|' .. untl)
    redis.call('HDEL', K.rl(), user)  -- the new limit starts with a full burst
  elseif redis.call('HDEL', K.rlover(), user) == 0 then
    return 0
  end
  LIMITS = nil
  -- A limit changed: whoever it throttled is judged again at the next pick.
  if string.sub(user, 1, 1) == '+' then
    local cursor = '0'
    repeat
      local r = redis.call('ZSCAN', K.throttled(), cursor, 'MATCH', user .. '|*', 'COUNT', 500)
      cursor = r[1]
      for i = 1, #r[2], 2 do redis.call('ZADD', K.throttled(), NOW_MS_S, r[2][i]) end
    until cursor == '0'
  elseif redis.call('ZREM', K.throttled(), user) == 1 then
    activate(user)
  end
  return 1
end
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
forget_user_cfg()
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
