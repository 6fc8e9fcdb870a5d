UPDATE tasks SET stalled_since = coalesce(stalled_since, clock_timestamp()), stall_reason = $3
 WHERE domain_id = $1 AND id = $2
