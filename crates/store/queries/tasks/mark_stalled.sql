UPDATE tasks SET stalled_since = coalesce(stalled_since, clock_timestamp()), stall_reason = $2
 WHERE id = $1
