-- worker_beat.lua: a worker's periodic beat: refresh its registry entry, and reap expired
-- leases (bounded) so crashed workers' tasks come back even while nobody pops.
-- Call     worker_beat(prefix, worker_id, ttl_ms, reap_limit, retry_base_ms, retry_factor, retry_cap_ms, default_max_attempts, registration_fp, field_value...)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  worker id
-- ARGV[3]  registry entry TTL in ms (a worker that stops beating disappears after it)
-- ARGV[4]  reap limit
-- ARGV[5..8] retry policy for expired leases: base ms, factor, cap ms, default max attempts
-- ARGV[9]  the worker's registration fingerprint (its routing; see register.lua)
-- ARGV[10..] field, value pairs of the registry entry (host, pid, started, in flight, ...)
-- Returns  {server time ms, expired leases reaped, 1 if the registration is live (refreshed)
--           else 0: the worker must register again}
local worker, ttl, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
RETRY_BASE_MS, RETRY_FACTOR = tonumber(ARGV[5]), tonumber(ARGV[6])
RETRY_CAP_MS, DEFAULT_MAX_ATT = tonumber(ARGV[7]), tonumber(ARGV[8])
local wk = K.worker(worker)
if #ARGV >= 11 then redis.call('HSET', wk, unpack(ARGV, 10)) end
redis.call('HSET', wk, 'last_beat', NOW_MS_S)
if not redis.call('HGET', wk, 'first_beat') then redis.call('HSET', wk, 'first_beat', NOW_MS_S) end
redis.call('PEXPIRE', wk, ttl)
redis.call('ZADD', K.workers(), NOW_MS_S, worker)
-- Refresh this worker's registration first, so a beat that comes late does not expire it.
local registered = 0
local route = redis.call('HGET', K.routes(), worker)
if route and string.match(route, '^([^|]*)|') == ARGV[9] then
  redis.call('ZADD', K.reg(), istr(NOW_MS + ttl), worker)
  registered = 1
end
expire_stale(16)
local reaped = reap_expired(limit)
sweep_idle(SWEEP_BATCH)  -- also when nobody pops: an idle queue still forgets idle users
flush_tail()
return {NOW_MS, reaped, registered}
