-- explain.lua: where a ready task stands in its user's queue (read-only).
-- Call     explain(prefix, aging_us, task_id)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  aging in µs
-- ARGV[3]  task id
-- Returns  {ahead in user (-1 if not queued), user's pass ('' if unknown), virtual time,
--           paused (1/0), in flight, cap, weight, in the round-robin now (1/0), tenant ('' =
--           none), tenant's pass, tenant's weight, fairness ('count' | 'time'), what the
--           dispatch will be charged, and on what basis, when the user's rate limit gives it
--           a token ('' = not throttled), the same for its tenant, cap mode ('hard' | 'soft')}
local aging, id = tonumber(ARGV[2]), ARGV[3]
local f = redis.call('HMGET', K.task(id), 'user', 'pri', 'seq')
local user, pri, seq = f[1], tonumber(f[2]), tonumber(f[3])
if not user or not pri or not seq then
  return {-1, '', '', 0, 0, 0, '', 0, '', '', '', '', '', '', '', '', ''}
end
local ahead = -1
local pos = redis.call('LPOS', K.prio(user, pri), istr(seq) .. '|' .. id)
if pos then
  ahead = pos
  if pri < 6 then
    ahead = ahead + redis.call('LLEN', K.prio(user, 6))
    local mine = seq - pri * aging
    for p = 5, 1, -1 do
      if p ~= pri then
        -- Entries of priority p that pop would take first: binary search, the list being
        -- in enqueue order. A tie goes to the higher priority.
        local key = K.prio(user, p)
        local lo, hi = 0, redis.call('LLEN', key)
        while lo < hi do
          local mid = math.floor((lo + hi) / 2)
          local s = tonumber(string.match(redis.call('LINDEX', key, mid), '^(%d+)|')) - p * aging
          if s < mine or (s == mine and p > pri) then lo = mid + 1 else hi = mid end
        end
        ahead = ahead + lo
      end
    end
  end
end
local weight, cap = user_cfg(user)
local score = rr_score(pool_of(user), user)
local pass = score or redis.call('HGET', K.pass(), user) or ''
-- When a rate limit next gives `name` a token: its wake-up if it is throttled, or its bucket's
-- next token if the bucket is empty ('' when it has a token or no limit).
local function next_token(name)
  local until_ms = throttled_until(name)
  if until_ms then return istr(until_ms) end
  local rate, burst = rate_limit(name)
  local wait = rate and token_wait(name, rate, burst, false) or 0
  return wait > 0 and istr(NOW_MS + wait) or ''
end

local t = tenant_of(user)
local tpass, tw = '', ''
if t then
  tpass = redis.call('ZSCORE', K.ready(pool_of(user)), '+' .. t)
    or redis.call('HGET', K.tstate(), t) or ''
  tw = fstr(tenant_weight(t))
end
local charge, basis = redis.call('HGET', K.task(id), 'cost'), 'cost'
if not charge then
  if by_time() then
    local r = redis.call('HMGET', K.runtime(), user, '*')
    charge, basis = r[1], 'mean run time'
    if not charge then charge, basis = r[2], "the queue's mean run time" end
    if not charge then charge, basis = fstr(DEFAULT_ESTIMATE_S), 'first-run estimate' end
  else
    charge, basis = '1', 'turn'
  end
end
return {ahead, pass, redis.call('HGET', K.meta(), 'vt') or '0',
  redis.call('SISMEMBER', K.paused(), user), tonumber(redis.call('HGET', K.uinflight(), user) or '0'),
  cap, fstr(weight), score and 1 or 0, t or '', tpass, tw, by_time() and 'time' or 'count',
  charge, basis, next_token(user),
  t and (throttled_until('+' .. t .. '|' .. pool_of(user))
    and istr(throttled_until('+' .. t .. '|' .. pool_of(user))) or next_token('+' .. t)) or '',
  soft_capped(user) and 'soft' or 'hard'}
