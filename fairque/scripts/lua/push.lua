-- push.lua: add one or more tasks (push and push_batch), idempotent by task id.
-- Call     push(prefix, max_bytes, n, {task_id, user, priority, payload} * n, sections...)
-- KEYS[1]  meta key of the queue (routes the call to the queue's slot)
-- ARGV[1]  key prefix "fq:{queue}:"
-- ARGV[2]  max payload bytes (the stricter of this and the stored queue limit applies)
-- ARGV[3]  n, the number of tasks; then 4 fields per task: task_id, user, priority (1-6),
--          payload JSON; then, optionally, sections of n values each (one per task, '' = none):
--          handlers, max_attempts ('' = the queue's default), due_ms (absolute), delay_ms,
--          trace contexts (JSON carrier), tenants ('' = the user's tenant, if it has one),
--          costs ('' = charged by count or run time), parents ("<policy>|<id>,<id>...", policy
--          'c': runs when all completed, 'a': when all ended), unique keys and debounces
--          ("<key>|<window ms>|<max wait ms>"). A section is present when it or a later one
--          is sent: the usual batch sends none, four values per task.
-- Returns  one string per task, in order: its state ('ready', 'delayed', 'blocked' (waits on
--          parents), 'canceled' (a parent it needs died)) when this call created it, '=' and
--          its state when the task existed already (nothing written for it), or '=' and the
--          state and '|' and the id of the task that holds its unique key or debounce (a
--          debounce's payload replaced by this one); for a single task that string alone.
-- Errors   "CONFLICT <task_id>" / "PAYLOAD_TOO_LARGE <task_id>" / "CORRUPT_KEY <key> ..." /
--          "TENANT_MISMATCH <task_id> <user> <its tenant>" (a user belongs to one tenant while
--          it has work queued or in flight) / "BAD_COST <task_id>" / "DEPENDENCY_CYCLE
--          <task_id> <parent>" (a parent waits, through others, on the task); nothing is
--          written then.
local max_bytes = ARGV[2] + 0  -- a number: parsed once (tonumber: twice)
local stored_max = flags().max_payload
if stored_max and stored_max < max_bytes then max_bytes = stored_max end
local n = ARGV[3] + 0
local W = 4

-- The usual single push, one new task with none of the optional sections (nothing past its
-- four values), is written here as the batch path below would write it: same commands, same
-- values. The batch path's grouping by list and by user (a dozen small tables and their
-- loops) is a fifth of a single push's server time. Any other case (an id that exists, a
-- payload too large, a list key of the wrong type, any section) goes on to the batch path,
-- which checks, refuses or answers it. The list is written first, and a list key of the
-- wrong type is found by the server refusing that write (nothing written yet), not by a TYPE
-- read before it. tests/integration/test_push_paths.py compares the state the two paths leave.
if n == 1 and ARGV[8] == nil and PRI_OF[ARGV[6]] and #ARGV[7] <= max_bytes then
  local id, user, pri_s = ARGV[4], ARGV[5], ARGV[6]
  local tk, lk = K.task(id), K.prio(user, pri_s)
  local seq = istr(next_seq())
  if redis.call('EXISTS', tk) == 0
      and type(redis.pcall('RPUSH', lk, seq .. '|' .. id)) == 'number' then
    redis.call('HSET', tk, 'user', user, 'pri', pri_s, 'payload', ARGV[7], 'state', 'ready',
      'created', NOW_MS_S, 'seq', seq)
    redis.call('HINCRBY', K.backlog(), user .. '|' .. pri_s, 1)
    redis.call('HINCRBY', K.backlog(), '*', 1)
    if redis.call('ZINCRBY', K.ubacklog(), 1, user) + 0 == 1 then  -- its first ready task
      IDX_BATCH = {}
      activate(user, 1)
      flush_index()
    end
    -- Tasks pushed before it wait on it (a rare case: one length read when there are none).
    if redis.call('HLEN', K.early()) > 0 and redis.call('HDEL', K.early(), id) == 1 then
      redis.call('HSET', tk, 'k', '1')
    end
    bump_user(K.psh, user, 1)
    count('pushed', 1)
    return 'ready'
  end
end

-- Where each optional section starts (ARGV[X + i] is task i's value, nil when not sent).
local HANDLERS, MAX_ATTS = 4 + n * W, 4 + n * (W + 1)
local DUES, DELAYS = 4 + n * (W + 2), 4 + n * (W + 3)
local TRACES, TENANTS, COSTS = 4 + n * (W + 4), 4 + n * (W + 5), 4 + n * (W + 6)
local AFTERS, UNIQUES, DEBOUNCES = 4 + n * (W + 7), 4 + n * (W + 8), 4 + n * (W + 9)
local ENDED_STATE = {completed = true, dead = true, canceled = true}
local early_edges = redis.call('HLEN', K.early()) > 0  -- tasks wait on ids not pushed yet

-- Whether `target` is reached from `from` through lists of dependents (a bounded search:
-- a graph too large to search is refused as a cycle would be, never half-checked).
local function waits_on(from, target)
  local seen_ids, frontier, visits = {[from] = true}, {from}, 0
  while #frontier > 0 do
    local id = table.remove(frontier)
    local kids = redis.pcall('LRANGE', K.kids(id), 0, -1)
    if type(kids) == 'table' then
      for _, kid in ipairs(kids) do
        if kid == target then return true end
        visits = visits + 1
        if visits > 10000 then return true end
        if not seen_ids[kid] then seen_ids[kid] = true; frontier[#frontier + 1] = kid end
      end
    end
  end
  return false
end

-- Pass 1: check everything so that a rejected batch changes nothing.
local existing = {}
local seen = {}  -- task id -> where in ARGV it first came (a batch may repeat an id)
-- Whether any of the batch's tasks exists already: one EXISTS per 500 ids, and only when it
-- counts some are the tasks read one by one (a batch of new tasks costs no read per task).
local tks = {}  -- the tasks' keys, built once
for i = 0, n - 1 do tks[i + 1] = K.task(ARGV[4 + i * W]) end
local any_exist = false
for s = 1, n, 500 do
  any_exist = redis.call('EXISTS', unpack(tks, s, math.min(s + 499, n))) > 0
  if any_exist then break end
end
local checked = {}
local tenants = {}  -- user -> the tenant this batch gives it
for i = 0, n - 1 do
  local b = 4 + i * W
  local id, user, payload = ARGV[b], ARGV[b + 1], ARGV[b + 3]
  local t, cost = ARGV[TENANTS + i] or '', ARGV[COSTS + i] or ''
  if cost ~= '' and not ((tonumber(cost) or 0) > 0) then
    return redis.error_reply('BAD_COST ' .. id .. ' ' .. cost)
  end
  if t ~= '' then
    local cur = tenants[user]
    if cur == nil then
      cur = tenant_of(user)
      if cur == t or (pending_count(user) == 0 and not redis.call('HGET', K.uinflight(), user)) then
        cur = nil  -- the same tenant, or a user with no work: free to join this one
      end
    end
    if cur and cur ~= t then
      return redis.error_reply('TENANT_MISMATCH ' .. id .. ' ' .. user .. ' ' .. cur)
    end
    tenants[user] = t
  end
  if #payload > max_bytes then
    return redis.error_reply('PAYLOAD_TOO_LARGE ' .. id .. ' ' .. #payload .. ' > ' .. max_bytes)
  end
  local pri_s = ARGV[b + 2]
  if not PRI_OF[pri_s] then pri_s = PRI_NAME[tonumber(pri_s)] or pri_s end
  local lk = K.prio(user, pri_s)  -- now or when due
  if checked[lk] == nil then checked[lk] = wrong_type(lk) or false end
  if checked[lk] then
    return redis.error_reply('CORRUPT_KEY ' .. lk .. ' holds a ' .. checked[lk])
  end
  local prev = seen[id]
  if prev then
    if ARGV[prev + 1] ~= user or ARGV[prev + 3] ~= payload then
      return redis.error_reply('CONFLICT ' .. id)
    end
  else
    local f = any_exist and redis.call('HMGET', tks[i + 1], 'user', 'payload', 'state') or NOTHING
    if f[1] or f[2] or f[3] then
      if f[1] ~= user or f[2] ~= payload then return redis.error_reply('CONFLICT ' .. id) end
      existing[id] = f[3] or 'ready'
    end
    seen[id] = b
  end
  -- A parent that waits, through others, on this task (pushed before it, naming it) would
  -- never run: refused, as a cycle.
  local after = ARGV[AFTERS + i] or ''
  if after ~= '' and early_edges and not existing[id]
      and redis.call('HEXISTS', K.early(), id) == 1 then
    for pid in string.gmatch(string.sub(after, 3), '[^,]+') do
      if waits_on(id, pid) then
        return redis.error_reply('DEPENDENCY_CYCLE ' .. id .. ' ' .. pid)
      end
    end
  end
end

local DEBOUNCE_SLACK_MS = 60000  -- a debounce key outlives its window's end by this much

-- The task that holds `user`'s unique key `ukey` while it has not ended, as this push's
-- answer ("=<state>|<id>"), or nil when the key is free.
local function unique_holder(id, user, ukey)
  local holder = redis.pcall('GET', K.unique(user, ukey))
  if type(holder) ~= 'string' or holder == id then return nil end
  local hs = redis.call('HGET', K.task(holder), 'state')
  if not hs or ENDED_STATE[hs] then return nil end
  return '=' .. hs .. '|' .. holder
end

-- A push into an open debounce window: the waiting task takes this payload and runs when the
-- window (from now) closes, or `max_wait` after the window's first push, whichever is first.
-- Returns its answer ("=delayed|<id>"), or nil when no window is open.
local function debounced_into(user, dkey, window, max_wait, payload)
  local cur = redis.pcall('GET', K.debounce(user, dkey))
  if type(cur) ~= 'string' then return nil end
  local cid, first = string.match(cur, '^(.*)|(%d+)$')
  if not cid then return nil end
  local ck = K.task(cid)
  local f = redis.call('HMGET', ck, 'state', 'user')
  if f[1] ~= 'delayed' or f[2] ~= user then return nil end
  local due = math.min(NOW_MS + window, tonumber(first) + max_wait)
  redis.call('HSET', ck, 'payload', payload, 'due', istr(due))
  redis.call('ZADD', K.delayed(), istr(due), cid)
  count('debounced')
  return '=delayed|' .. cid
end

-- A new task's parents ("<policy>|<id>,<id>..."): how many it waits on, their ids, and the
-- first parent that ended without completing when the task needs them all completed (then
-- the task is canceled at once).
local function parents_pending(after)
  local any_end = string.sub(after, 1, 1) == 'a'
  local waiting, parents = 0, {}
  for pid in string.gmatch(string.sub(after, 3), '[^,]+') do
    local ps = redis.call('HGET', K.task(pid), 'state')
    if ps == 'completed' or (any_end and ENDED_STATE[ps]) then
      -- done with: nothing to wait for
    elseif ENDED_STATE[ps] then
      return 0, nil, pid .. ' ' .. ps
    else
      waiting = waiting + 1
      parents[#parents + 1] = pid
    end
  end
  return waiting, parents, nil
end

-- Pass 2: write the task hashes; queue entries and counters are gathered per list and per
-- user, so a batch costs two calls per task plus a few per user.
local out = {}
local created = 0
local seq = istr(next_seq())
local created_ms = NOW_MS_S
local lists, list_order = {}, {}
local list_field = {}
local by_user, user_order = {}, {}
local ready_total = 0
local pushed_by = {}
for i = 0, n - 1 do
  local b = 4 + i * W
  local id, user, pri = ARGV[b], ARGV[b + 1], PRI_OF[ARGV[b + 2]] or tonumber(ARGV[b + 2])
  local state = existing[id]
  local held = nil  -- "=<state>|<id>" of the task that holds this one's unique key or debounce
  local ukey, deb = ARGV[UNIQUES + i] or '', ARGV[DEBOUNCES + i] or ''
  if not state and ukey ~= '' then held = unique_holder(id, user, ukey) end
  local dkey, window, max_wait
  if not state and not held and deb ~= '' then
    dkey, window, max_wait = string.match(deb, '^(.-)|(%d+)|(%d+)$')
    window, max_wait = tonumber(window), tonumber(max_wait)
    held = debounced_into(user, dkey, window, max_wait, ARGV[b + 3])
  end
  if held then
    out[#out + 1] = held
  elseif state then
    out[#out + 1] = '=' .. state
  else
    local due = 0
    local due_ms, delay_ms = ARGV[DUES + i] or '', ARGV[DELAYS + i] or ''
    if due_ms ~= '' then due = tonumber(due_ms) end
    if delay_ms ~= '' then due = math.max(due, NOW_MS + tonumber(delay_ms)) end
    if dkey then  -- the first push of a debounce window: it runs when the window closes
      due = math.max(due, NOW_MS + math.min(window, max_wait))
      redis.call('SET', K.debounce(user, dkey), id .. '|' .. NOW_MS_S, 'PX',
        istr(max_wait + DEBOUNCE_SLACK_MS))
    end
    state = 'ready'
    if due > NOW_MS then state = 'delayed' end
    local after = ARGV[AFTERS + i] or ''
    local waiting, parents, doomed = 0, nil, nil
    if after ~= '' then waiting, parents, doomed = parents_pending(after) end
    if doomed then state = 'canceled' elseif waiting > 0 then state = 'blocked' end
    -- A task hash holds only what no key or default already says: not its id (the key's
    -- tail), not attempt 0 (a missing 'att' is none yet), and no handler or max_attempts
    -- when the task has none of its own (readers take a missing field as none). Every field
    -- written is a search on each later read and write of the hash.
    local handler, max_att = ARGV[HANDLERS + i] or '', ARGV[MAX_ATTS + i] or ''
    if handler == '' and max_att == '' then
      redis.call('HSET', tks[i + 1], 'user', user, 'pri', ARGV[b + 2], 'payload', ARGV[b + 3],
        'state', state, 'created', created_ms, 'seq', seq)
    else
      redis.call('HSET', tks[i + 1], 'user', user, 'pri', ARGV[b + 2], 'payload', ARGV[b + 3],
        'handler', handler, 'max_att', max_att, 'state', state, 'created', created_ms, 'seq', seq)
    end
    local trace, cost = ARGV[TRACES + i], ARGV[COSTS + i]
    if trace and trace ~= '' and #trace <= 512 then redis.call('HSET', tks[i + 1], 'trace', trace) end
    if cost and cost ~= '' then redis.call('HSET', tks[i + 1], 'cost', cost) end
    if early_edges and redis.call('HDEL', K.early(), id) == 1 then
      redis.call('HSET', tks[i + 1], 'k', '1')  -- tasks pushed before it wait on it
    end
    if ukey ~= '' then
      redis.call('SET', K.unique(user, ukey), id)
      redis.call('HSET', tks[i + 1], 'uk', ukey)
    end
    if after ~= '' then
      redis.call('HSET', tks[i + 1], 'after', string.sub(after, 3))
      if string.sub(after, 1, 1) == 'a' then redis.call('HSET', tks[i + 1], 'apol', 'a') end
    end
    if state == 'canceled' then
      redis.call('HSET', tks[i + 1], 'finished', NOW_MS_S, 'cancel',
        'parent ' .. doomed .. '|' .. NOW_MS_S .. '|' .. istr(DEPENDENCY_CANCEL_TTL_MS))
      redis.call('PEXPIRE', tks[i + 1], DEPENDENCY_CANCEL_TTL_MS)
      task_ended(id, 'x', nil, user, ukey ~= '' and ukey or nil, nil)
      count('canceled')
    elseif state == 'blocked' then
      if due > 0 then redis.call('HSET', tks[i + 1], 'due', istr(due)) end
      redis.call('HSET', tks[i + 1], 'deps', waiting)
      for _, pid in ipairs(parents) do
        redis.call('RPUSH', K.kids(pid), id)
        if redis.call('EXISTS', K.task(pid)) == 1 then
          redis.call('HSET', K.task(pid), 'k', '1')
        else
          redis.call('HINCRBY', K.early(), pid, 1)  -- pushed later: push sets its 'k'
          early_edges = true
        end
      end
      blocked_add(user, 1)
    elseif state == 'delayed' then
      redis.call('HSET', tks[i + 1], 'due', istr(due))
      redis.call('ZADD', K.delayed(), istr(due), id)
    else
      local pri_s = PRI_NAME[pri] or ARGV[b + 2]
      local lk = K.prio(user, pri_s)
      local entries = lists[lk]
      if not entries then
        entries = {}
        lists[lk] = entries
        list_order[#list_order + 1] = lk
        list_field[lk] = user .. '|' .. pri_s  -- its ready counter in the backlog hash
      end
      entries[#entries + 1] = seq .. '|' .. id
      if not by_user[user] then by_user[user] = 0; user_order[#user_order + 1] = user end
      by_user[user] = by_user[user] + 1
      ready_total = ready_total + 1
    end
    pushed_by[user] = (pushed_by[user] or 0) + 1
    existing[id] = state
    created = created + 1
    out[#out + 1] = state
  end
end
for user, t in pairs(tenants) do redis.call('HSET', K.utenant(), user, t) end
for _, lk in ipairs(list_order) do
  local entries = lists[lk]
  call_in_chunks('RPUSH', lk, entries)
  redis.call('HINCRBY', K.backlog(), list_field[lk], #entries)
end
if ready_total > 0 then redis.call('HINCRBY', K.backlog(), '*', ready_total) end
IDX_BATCH = {}  -- the pools' index entries are set once, after every user is in
for _, user in ipairs(user_order) do
  local c = by_user[user]
  -- The user's queues were empty before this batch: it may enter the round-robin.
  if redis.call('ZINCRBY', K.ubacklog(), c, user) + 0 == c then activate(user, c) end
end
flush_index()
for user, c in pairs(pushed_by) do bump_user(K.psh, user, c) end
if created > 0 then count('pushed', created) end
-- A single task's state alone: the server turns a table into a reply through a list it
-- allocates, a string straight into its buffer (about 3% of a single push).
if n == 1 then return out[1] end
return out
