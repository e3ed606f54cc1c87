-- ends.lua: what a task's end sets off (composed after events.lua). Every script that ends a
-- task (complete, fail and the reaper burying it, cancel, drain, a dependency canceling it)
-- calls task_ended, which frees its unique key and queues the release of the tasks that wait
-- on it (dependents.lua works through them, a bounded slice per call).
-- A dead or canceled parent's list of dependents is kept for a day.
local DEPENDENTS_TTL_MS = 86400000  -- constant

-- A task ended: `outcome` 'c' (completed), 'd' (dead) or 'x' (canceled). `kids` is its 'k'
-- field (set when tasks wait on it), `ukey` its 'uk' field (its unique key), `ttl_ms` how long
-- the task stays readable (its list of dependents stays as long, for `task show`).
local function task_ended(task_id, outcome, kids, user, ukey, ttl_ms)
  if ukey and user then
    local key = K.unique(user, ukey)
    -- pcall: a key written over with another type is not this task's
    if redis.pcall('GET', key) == task_id then redis.call('DEL', key) end
  end
  if kids then  -- its list of dependents expires once all are told (dependents.lua)
    redis.call('RPUSH', K.deptodo(),
      outcome .. '|0|' .. istr(ttl_ms or DEPENDENTS_TTL_MS) .. '|' .. task_id)
  end
end

-- The blocked count of a user (and of the queue: '*') changed by `n`.
local function blocked_add(user, n)
  if redis.call('HINCRBY', K.blocked(), user, n) <= 0 then redis.call('HDEL', K.blocked(), user) end
  if redis.call('HINCRBY', K.blocked(), '*', n) <= 0 then redis.call('HDEL', K.blocked(), '*') end
end
