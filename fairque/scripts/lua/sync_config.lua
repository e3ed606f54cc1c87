-- sync_config.lua: mirror the users/workers part of the configuration into the queue, so
-- that scripts can read each user's pool, weight and cap. Users whose pool changed are moved
-- between ready sets. A no-op when the stored fingerprint matches.
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  fingerprint of the mirrored configuration
-- ARGV[3]  default weight
-- ARGV[4]  "max payload bytes|dlq cap" (queue-wide limits every script enforces)
-- ARGV[5]  n users; then 2 fields per user: user, "pool|weight|max_inflight"
-- then     the pool names (the rest of ARGV)
-- Returns  1 if the mirror was rewritten, 0 if it was already current
if redis.call('HGET', K.meta(), 'cfg_fp') == ARGV[2] then return 0 end
local n = tonumber(ARGV[5])
local new = {}
for i = 0, n - 1 do
  new[ARGV[6 + i * 2]] = ARGV[7 + i * 2]
end
local function pool_of(raw)
  if not raw then return '_' end
  return string.match(raw, '^([^|]*)|') or '_'
end
local old = redis.call('HGETALL', K.cfg_users())
local oldmap = {}
for i = 1, #old, 2 do oldmap[old[i]] = old[i + 1] end
local function move(user, from, to)
  if from == to then return end
  local score = redis.call('ZSCORE', K.ready(from), user)
  if score then
    redis.call('ZREM', K.ready(from), user)
    redis.call('ZADD', K.ready(to), score, user)
  end
end
for user, raw in pairs(oldmap) do
  if string.sub(user, 1, 1) ~= '*' and string.sub(user, 1, 1) ~= '#' then move(user, pool_of(raw), pool_of(new[user])) end
end
for user, raw in pairs(new) do
  if not oldmap[user] then move(user, '_', pool_of(raw)) end
end
redis.call('DEL', K.cfg_users(), K.cfg_pools())
local max_payload, dlq_max = string.match(ARGV[4], '^(%d+)|(%d+)$')
redis.call('HSET', K.cfg_users(), '*', ARGV[3], '#max_payload', max_payload, '#dlq_max', dlq_max)
local batch = {}
for user, raw in pairs(new) do
  batch[#batch + 1] = user
  batch[#batch + 1] = raw
  if #batch >= 1000 then
    redis.call('HSET', K.cfg_users(), unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('HSET', K.cfg_users(), unpack(batch)) end
for i = 6 + n * 2, #ARGV do redis.call('SADD', K.cfg_pools(), ARGV[i]) end
redis.call('HSET', K.meta(), 'cfg_fp', ARGV[2])
return 1
