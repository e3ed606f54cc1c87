-- user_rows.lua: the per-user reads of the users table, done on the server (read-only, run
-- with EVAL_RO): a row costs the client one array instead of 23 commands to pack, send and
-- parse (the table of 200 users took 50 ms of a client's time through a pipeline).
-- Call     user_rows(prefix, first_minute, minutes, user...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  the first minute of the share window the rows count served tasks in
-- ARGV[3]  the window's length in minutes
-- ARGV[4..] user ids
-- Returns  per user, in order, the replies monitoring/user_ops.py row_reads lists: backlog,
--          backlog by priority (6..1), in flight, paused, settings entries, recent waits,
--          tenant, mean run time, rate override, token arrival time, throttled until,
--          blocked, the head of each priority's queue (6..1; nil when empty or broken),
--          served in each minute of the share window (oldest first). nil stays nil.
local first, minutes = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local function v(x) if x == nil then return false end return x end
for i = 4, #ARGV do
  local user = ARGV[i]
  local row = {
    v(redis.call('ZSCORE', K.ubacklog(), user)),
    redis.call('HMGET', K.backlog(), user .. '|6', user .. '|5', user .. '|4', user .. '|3',
      user .. '|2', user .. '|1'),
    v(redis.call('HGET', K.uinflight(), user)),
    redis.call('SISMEMBER', K.paused(), user),
    redis.call('HMGET', K.settings(), user, '~' .. user, '#rate', '%' .. user, '#capmode'),
    redis.call('LRANGE', K.waits(user), 0, 99),
    v(redis.call('HGET', K.utenant(), user)),
    v(redis.call('HGET', K.runtime(), user)),
    v(redis.call('HGET', K.rlover(), user)),
    v(redis.call('HGET', K.rl(), user)),
    v(redis.call('ZSCORE', K.throttled(), user)),
    v(redis.call('HGET', K.blocked(), user)),
  }
  for p = 6, 1, -1 do
    local ok, head = pcall(redis.call, 'LINDEX', K.prio(user, p), 0)
    row[#row + 1] = ok and head or false  -- a key of the wrong type reads as empty
  end
  for m = first, first + minutes - 1 do
    row[#row + 1] = v(redis.call('HGET', K.srv(istr(m)), user))
  end
  out[#out + 1] = row
end
return out
