-- events.lua: telling a waiting producer what became of a task (composed after common.lua).
-- A producer that waits on a task (TaskQueue.result, watch) marks it with the field 'w' in
-- the same script that reads its state (watch.lua), and reads the task's event stream with a
-- blocking XREAD from the id that script gave it: so no event after the read is missed, and
-- the wait holds across reconnects and restarts (the mark and the stream are data). Tasks
-- nobody waits on cost one field read, no write.
-- A task's stream outlives its last event by an hour and keeps about 64 entries (MAXLEN ~);
-- a waiter reads them as they come.
local EVENTS_TTL_MS = 3600000  -- constant
local EVENTS_KEEP = 64  -- constant

-- Append an event (field, value pairs) to a task's stream when someone waits on it
-- (`watched`: its 'w' field as the caller read it).
local function task_event(task_id, watched, ...)
  if not watched then return end
  local key = K.events(task_id)
  -- pcall: a key something else wrote over must not stop the change it reports (a waiter
  -- then learns of it when its read times out and it reads the task again).
  if type(redis.pcall('XADD', key, 'MAXLEN', '~', EVENTS_KEEP, '*', ...)) == 'string' then
    redis.call('PEXPIRE', key, EVENTS_TTL_MS)
  end
end

-- The queue's event tail (`tail`): what ended or changed, for an operator watching it live
-- (the TUI's event tail). The events of one call go into one entry, written at the call's end
-- (flush_tail): a pop or an ack of many tasks adds one stream entry, not one per task. Each
-- event is "event|task id|user|handler|detail" (detail last: an error message may hold '|').
-- The stream keeps about TAIL_EVENTS events: each write trims it to TAIL_EVENTS entries over
-- the events its own entry holds (an ack of 1,000 tasks keeps the last 10 entries), and it
-- goes an hour after its last event. A reader that falls behind is told so by the ids it
-- missed (the tail is a live view, not a log).
local TAIL_EVENTS = 10000  -- constant
local TAIL_TTL_MS = 3600000  -- constant
-- Characters of a detail kept (an error's first line).
local TAIL_DETAIL = 200  -- constant
local TAIL = nil  -- this call's events, made on first use
local function tail_event(event, task_id, user, handler, detail)
  if not TAIL then TAIL = {} end
  detail = detail and string.sub(string.gsub(detail, '[\r\n]+', ' '), 1, TAIL_DETAIL) or ''
  TAIL[#TAIL + 1] = event .. '|' .. task_id .. '|' .. (user or '') .. '|' .. (handler or '')
    .. '|' .. detail
end

-- Write this call's events, if any (the last thing a script that reports them does).
local function flush_tail()
  if TAIL and #TAIL > 0 then
    local keep = math.max(math.floor(TAIL_EVENTS / #TAIL), 2)
    -- Approximate trimming removes whole nodes of about 100 entries: exact below 1,000.
    local how = keep >= 1000 and '~' or '='
    -- pcall: a key something else wrote over must not undo the change it reports.
    if type(redis.pcall('XADD', K.tail(), 'MAXLEN', how, keep, '*', 'x',
        table.concat(TAIL, '\n'))) == 'string' then
      redis.call('PEXPIRE', K.tail(), TAIL_TTL_MS)
    end
    TAIL = nil
  end
end
