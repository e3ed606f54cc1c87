-- events.lua: telling a waiting producer what became of a task (composed after common.lua).
-- A producer that waits on a task (TaskQueue.result, watch) marks it with the field 'w' in
-- the same script that reads its state (watch.lua), and reads the task's event stream with a
-- blocking XREAD from the id that script gave it: so no event after the read is missed, and
-- the wait holds across reconnects and restarts (the mark and the stream are data). Tasks
-- nobody waits on cost one field read, no write.
local EVENTS_TTL_MS = 3600000  -- a stream outlives its last event by an hour
local EVENTS_KEEP = 64  -- entries kept (about: MAXLEN ~); a waiter reads them as they come

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
