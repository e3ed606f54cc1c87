-- dependents.lua: passing a parent's end on to the tasks that wait on it (composed after
-- lifecycle.lua). A parent's end is queued on the todo list (ends.lua: task_ended) as
-- "<outcome>|<offset>|<ttl ms of its list>|<parent id>"; each pop and each acknowledgement works through up to a
-- budget of dependents, so one call never holds the server long, whatever the fan-out, and a
-- crash between calls loses nothing (the todo list and the offsets are data). A dependent is
-- released at most once: only a 'blocked' task counts a parent down, and it leaves 'blocked'
-- in the same call that counts its last parent.
-- Work per call, in releases: a dependent made ready (or canceled) costs 1, one only counted
-- down (it waits for other parents too) a fifth of that (docs/dependencies.md: measured).
local RELEASE_BUDGET = 100  -- constant
local COUNT_DOWN_COST = 0.2  -- constant
-- A task canceled by its parent's end stays readable for a day.
local DEPENDENCY_CANCEL_TTL_MS = 86400000  -- constant
-- What one call released or canceled, counted once at its end rather than once per task.
local UNBLOCKED, UNBLOCKED_BY, RELEASED, DEP_CANCELED = 0, nil, 0, 0

-- One parent of a blocked task ended with `outcome` ('c', 'd' or 'x'): count it down and
-- release the task at its last parent, or cancel it (and, in turn, its own dependents) when
-- the parent did not complete and the task runs only after parents that completed. Returns
-- the work it took (RELEASE_BUDGET's units).
local function parent_ended(child, outcome, parent)
  local ck = K.task(child)
  local f = redis.call('HMGET', ck, 'state', 'user', 'pri', 'apol', 'due', 'w', 'k', 'uk', 'handler')
  if f[1] ~= 'blocked' or not f[2] then return COUNT_DOWN_COST end  -- canceled, or gone
  if outcome == 'c' or f[4] == 'a' then
    if redis.call('HINCRBY', ck, 'deps', -1) > 0 then return COUNT_DOWN_COST end
    redis.call('HDEL', ck, 'deps')
    UNBLOCKED, RELEASED = UNBLOCKED + 1, RELEASED + 1
    UNBLOCKED_BY = UNBLOCKED_BY or {}
    UNBLOCKED_BY[f[2]] = (UNBLOCKED_BY[f[2]] or 0) + 1
    local due = tonumber(f[5])
    local pri = tonumber(f[3])
    if due and due > NOW_MS then
      redis.call('HSET', ck, 'state', 'delayed')
      redis.call('ZADD', K.delayed(), istr(due), child)
    elseif pri and pri >= 1 and pri <= 6 then
      make_ready(child, f[2], pri)
    else
      bury(child, ck, 'corrupt: blocked task has no valid priority', 'CorruptTask', '', '')
      return 1
    end
    task_event(child, f[6], 'state', 'ready')
    return 1
  else
    local why = outcome == 'd' and 'dead' or 'canceled'
    redis.call('HSET', ck, 'state', 'canceled', 'finished', NOW_MS_S, 'cancel',
      'parent ' .. parent .. ' ' .. why .. '|' .. NOW_MS_S .. '|' .. DEPENDENCY_CANCEL_TTL_MS)
    redis.call('HDEL', ck, 'deps')
    redis.call('PEXPIRE', ck, DEPENDENCY_CANCEL_TTL_MS)
    UNBLOCKED, DEP_CANCELED = UNBLOCKED + 1, DEP_CANCELED + 1
    UNBLOCKED_BY = UNBLOCKED_BY or {}
    UNBLOCKED_BY[f[2]] = (UNBLOCKED_BY[f[2]] or 0) + 1
    task_event(child, f[6], 'state', 'canceled')
    tail_event('canceled', child, f[2], f[9], 'parent ' .. parent .. ' ' .. why)
    task_ended(child, 'x', f[7], f[2], f[8], DEPENDENCY_CANCEL_TTL_MS)
    return 1
  end
end

-- The counts of what a call released or canceled, written once.
local function flush_unblocked()
  if UNBLOCKED == 0 then return end
  for user, n in pairs(UNBLOCKED_BY) do
    if redis.call('HINCRBY', K.blocked(), user, -n) <= 0 then
      redis.call('HDEL', K.blocked(), user)
    end
  end
  if redis.call('HINCRBY', K.blocked(), '*', -UNBLOCKED) <= 0 then
    redis.call('HDEL', K.blocked(), '*')
  end
  if RELEASED > 0 then count('released', RELEASED) end
  if DEP_CANCELED > 0 then count('canceled', DEP_CANCELED) end
  UNBLOCKED, UNBLOCKED_BY, RELEASED, DEP_CANCELED = 0, nil, 0, 0
end

-- Pass queued parent ends on to up to `budget` dependents (the oldest end first). Returns
-- whether ends are left for later calls.
local function release_dependents(budget)
  local todo = K.deptodo()
  while budget > 0 do
    local head = redis.call('LINDEX', todo, 0)
    if not head then
      flush_unblocked()
      return false
    end
    local outcome, offset, ttl, parent = string.match(head, '^(%a)|(%d+)|(%d+)|(.+)$')
    if not parent then
      redis.call('LPOP', todo)  -- written over from outside: nothing to pass on
    else
      offset = tonumber(offset)
      local ask = math.ceil(budget / COUNT_DOWN_COST)
      local kids = redis.pcall('LRANGE', K.kids(parent), offset, offset + ask - 1)
      if type(kids) ~= 'table' then kids = NOTHING end  -- a list written over: nobody to tell
      local told = 0
      while told < #kids and budget > 0 do
        told = told + 1
        budget = budget - parent_ended(kids[told], outcome, parent)
      end
      if told == #kids and #kids < ask then
        -- every dependent of this parent told: its list stays as long as the parent does
        redis.call('LPOP', todo)
        redis.pcall('PEXPIRE', K.kids(parent), ttl)
      else
        redis.call('LSET', todo, 0,
          outcome .. '|' .. istr(offset + told) .. '|' .. ttl .. '|' .. parent)
      end
    end
  end
  flush_unblocked()
  return redis.call('LLEN', todo) > 0
end
