-- settings_apply.lua: `fairque config apply`: make a settings document the settings in force.
-- Call     settings_apply(prefix, settings_fp, settings, writer)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  settings fingerprint
-- ARGV[3]  settings document (JSON: default_weight, max_payload_bytes, dlq_max, users)
-- ARGV[4]  who applies it (user@host)
-- Returns  1 if the settings in force changed, 0 if they were already these
if redis.call('HGET', K.settings_meta(), 'fp') == ARGV[2] then return 0 end
write_settings(ARGV[2], ARGV[3], ARGV[4], 'apply')
return 1
