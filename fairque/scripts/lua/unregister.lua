-- unregister.lua: a worker that stops leaves the routing at once (its users go to the other
-- workers that name them, or to the '*' stealers) instead of waiting for its registration to
-- go stale.
-- Call     unregister(prefix, worker_id)
-- KEYS[1]  meta key of the queue
-- ARGV[1]  key prefix
-- ARGV[2]  worker id
-- Returns  1 if it was registered, else 0
return unregister(ARGV[2]) and 1 or 0
