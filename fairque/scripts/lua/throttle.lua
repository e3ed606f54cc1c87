-- throttle.lua: a pop's rate-limit check of the user it picked, and the tokens a dispatch
-- spends (composed into the scripts after lifecycle.lua).

-- A user (or its tenant) without a token leaves the round-robin until the token is due;
-- `throttled` brings it back (wake_throttled). Returns true when the pick was throttled.
local function throttle(user, pass, pool, t, soft)
  local lt = t or tenant_of(user)
  local rate, burst = rate_limit(user)
  local wait = rate and token_wait(user, rate, burst, true) or 0
  if wait > 0 then
    if soft then
      redis.call('ZREM', K.soft(), user)
      redis.call('HSET', K.pass(), user, fstr(pass))
    else
      rr_leave(pool, user, pass)
    end
    redis.call('ZADD', K.throttled(), istr(NOW_MS + wait), user)
    count('throttled')
    tail_event('throttled', '', user, '', 'rate limit: next token in ' .. wait .. ' ms')
    return true
  end
  if lt then
    rate, burst = rate_limit('+' .. lt)
    wait = rate and token_wait('+' .. lt, rate, burst, true) or 0
    if wait > 0 and t then
      rr_tenant_left(pool, t)
      idx_fix(pool)
      redis.call('ZADD', K.throttled(), istr(NOW_MS + wait), '+' .. t .. '|' .. pool)
      count('throttled')
      tail_event('throttled', '', user, '', 'tenant ' .. t .. ' rate limit: next token in '
        .. wait .. ' ms')
      return true
    elseif wait > 0 then  -- a soft user of a throttled tenant: wait with the tenant
      redis.call('ZREM', K.soft(), user)
      redis.call('HSET', K.pass(), user, fstr(pass))
      redis.call('ZADD', K.throttled(), istr(NOW_MS + wait), user)
      count('throttled')
      tail_event('throttled', '', user, '', 'tenant ' .. lt .. ' rate limit: next token in '
        .. wait .. ' ms')
      return true
    end
  end
  return false
end

-- A dispatch spends a token of the user's limit and of its tenant's.
local function spend_tokens(user, t)
  local rate, burst = rate_limit(user)
  if rate then take_token(user, rate, burst) end
  local lt = t or tenant_of(user)
  if lt then
    rate, burst = rate_limit('+' .. lt)
    if rate then take_token('+' .. lt, rate, burst) end
  end
end
