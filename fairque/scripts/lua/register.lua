-- register.lua: a consumer announces itself: a worker registers who it serves (its routing),
-- and a consumer whose configuration has user settings offers them. The first settings
-- offered become the settings in force; later different ones are kept as that worker's view
-- (a config_conflict) and change nothing: only `fairque config apply` replaces them.
-- Call     register(prefix, worker_id, ttl_ms, registration_fp, assigned, steal, settings_fp, settings, writer)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  worker id, or '-' for a consumer without a worker identity (settings only)
-- ARGV[3]  registration TTL in ms (the worker's beats refresh it)
-- ARGV[4]  registration fingerprint (of the two lists below)
-- ARGV[5]  assigned users, comma-separated
-- ARGV[6]  steal targets, comma-separated, or '*' for every user
-- ARGV[7]  settings fingerprint, or '' when the configuration has no settings of its own
-- ARGV[8]  settings document (JSON: default_weight, max_payload_bytes, dlq_max, users)
-- ARGV[9]  who offers them (worker id or user@host, for `fairque config show`)
-- Returns  {settings status: 'none' | 'seeded' | 'same' | 'conflict', fp in force, writer,
--           written at ms, how ('seed' | 'apply'), the document in force when 'conflict'}
local worker, sfp = ARGV[2], ARGV[7]
expire_stale(16)
if worker ~= '-' then
  register(worker, table.concat({ARGV[4], sfp, ARGV[5], ARGV[6]}, '|'), NOW_MS + tonumber(ARGV[3]))
end
local status = 'none'
local meta = redis.call('HMGET', K.settings_meta(), 'fp', 'writer', 'at', 'how')
if sfp ~= '' then
  if not meta[1] then
    write_settings(sfp, ARGV[8], ARGV[9], 'seed')
    meta = {sfp, ARGV[9], NOW_MS_S, 'seed'}
    status = 'seeded'
  elseif meta[1] == sfp then
    status = 'same'
  else
    status = 'conflict'
    if worker ~= '-' then redis.call('HSET', K.settings_docs(), sfp, ARGV[8]) end
  end
end
local in_force = ''
if status == 'conflict' then in_force = redis.call('HGET', K.settings_docs(), meta[1]) or '' end
return {status, meta[1] or '', meta[2] or '', meta[3] or '', meta[4] or '', in_force}
