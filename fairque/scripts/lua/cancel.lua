-- cancel.lua: cancel tasks, whatever their state, each atomically.
-- Call     cancel(prefix, who, ttl_ms, n, {task_id} * n)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  who asks (the audit log and the task name them)
-- ARGV[3]  how long a canceled task stays readable, in ms
-- ARGV[4]  n; then 1 fields per task: its id
-- Returns  one string per task: the state it was canceled in ('ready', 'delayed', 'blocked':
--          now; 'leased': the cancel is recorded on the lease and the worker holding it told,
--          the task ends canceled when its lease ends), '=' and its state when it had ended
--          already or its cancel was asked for before ('=completed', '=dead', '=canceled',
--          '=canceling'; nothing changed), or 'missing'
local who, ttl, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local mark = who .. '|' .. NOW_MS_S .. '|' .. ttl
local AUDIT_KEEP = 10000  -- as monitoring/admin_ops.py AUDIT_MAXLEN
local CANCELS_TTL_MS = 600000  -- a word nobody reads in ten minutes is for a worker gone
-- A blocked task canceled: the parents not pushed yet no longer wait to tell it (their
-- lists of dependents would otherwise outlive it, with nobody to push them).
local function forget_early_edges(id, after)
  for pid in string.gmatch(after or '', '[^,]+') do
    if redis.call('EXISTS', K.task(pid)) == 0 then
      local removed = redis.pcall('LREM', K.kids(pid), 0, id)
      if type(removed) == 'number' and removed > 0
          and redis.call('HINCRBY', K.early(), pid, -removed) <= 0 then
        redis.call('HDEL', K.early(), pid)
      end
    end
  end
end

local out = {}
local users = {}  -- users whose ready tasks were canceled (round-robin checked once each)
for i = 1, n do
  local id = ARGV[4 + i]
  local tk = K.task(id)
  local f = redis.call('HMGET', tk, 'state', 'user', 'pri', 'seq', 'worker', 'w', 'cancel',
    'k', 'uk', 'after', 'handler')
  local state = f[1]
  if not state then
    out[i] = 'missing'
  elseif state == 'completed' or state == 'dead' or state == 'canceled' then
    out[i] = '=' .. state
  elseif state == 'leased' then
    if f[7] then
      out[i] = '=canceling'
    else
      redis.call('HSET', tk, 'cancel', mark)
      local ck = K.cancels(f[5] or '-')
      redis.call('RPUSH', ck, id)
      redis.call('PEXPIRE', ck, CANCELS_TTL_MS)
      count('cancel_requested')
      task_event(id, f[6], 'state', 'canceling')
      out[i] = 'leased'
    end
  else
    if state == 'ready' then
      local pri, user = tonumber(f[3]), f[2]
      -- The queue entry is "<seq>|<id>": removed by value (a scan of the user's list of
      -- that priority; pop skips an entry left behind, should a hand-edited seq differ).
      -- pcall: a queue key of the wrong type (a quarantined user) refuses the removal; the
      -- task is canceled all the same (pop skips a canceled entry) and nothing half-applies.
      local removed = user and pri and pri >= 1 and pri <= 6 and
        redis.pcall('LREM', K.prio(user, PRI_NAME[pri]), 1, (f[4] or '') .. '|' .. id)
      if type(removed) == 'number' and removed > 0 then
        backlog_dec(user, pri)
        users[user] = true
      end
    elseif state == 'delayed' then
      redis.call('ZREM', K.delayed(), id)
    elseif state == 'blocked' and f[2] then
      blocked_add(f[2], -1)
      forget_early_edges(id, f[10])
    end
    redis.call('HSET', tk, 'state', 'canceled', 'finished', NOW_MS_S, 'cancel', mark)
    redis.call('HDEL', tk, 'deps')
    redis.call('PEXPIRE', tk, ttl)
    count('canceled')
    task_event(id, f[6], 'state', 'canceled')
    tail_event('canceled', id, f[2], f[11], who)
    task_ended(id, 'x', f[8], f[2], f[9], ttl)
    out[i] = state
  end
  if out[i] ~= 'missing' and string.sub(out[i], 1, 1) ~= '=' then
    redis.call('XADD', K.audit(), 'MAXLEN', '~', AUDIT_KEEP, '*', 'actor', who,
      'action', 'cancel', 'target', 'task ' .. id, 'count', 1,
      'detail', '{"state": "' .. state .. '"}')
  end
end
flush_backlog()
-- A user left with nothing ready leaves the round-robin (its pass kept, as drain does).
for user in pairs(users) do
  if pending_count(user) == 0 then
    leave_round_robin(user)
    note_if_idle(user)
  end
end
-- Dependents of the tasks canceled here are canceled (or released) in turn: a bounded
-- slice now, the rest by pops.
if release_dependents(RELEASE_BUDGET) then wake_pool('_') end
flush_tail()
return out
