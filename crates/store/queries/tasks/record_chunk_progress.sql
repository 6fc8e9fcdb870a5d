-- processing → processing | completed: counts a committed chunk ($3 succeeded, $4 failed);
-- the last chunk completes the task with its outcome.
UPDATE tasks SET
    chunks_done = chunks_done + 1,
    processed = processed + $3 + $4,
    succeeded = succeeded + $3,
    failed = failed + $4,
    last_progress_at = clock_timestamp(),
    stalled_since = NULL,
    stall_reason = NULL,
    started_at = coalesce(started_at, now()),
    state = CASE WHEN chunks_done + 1 >= chunks_total THEN 'completed' ELSE 'processing' END,
    completed_at = CASE WHEN chunks_done + 1 >= chunks_total THEN clock_timestamp() END,
    outcome = CASE WHEN chunks_done + 1 < chunks_total THEN NULL
                   WHEN cancel_requested_at IS NOT NULL THEN 'canceled'
                   WHEN failed + $4 = 0 THEN 'succeeded'
                   WHEN succeeded + $3 = 0 THEN 'failed'
                   ELSE 'completed_with_errors' END
 WHERE domain_id = $1 AND id = $2
RETURNING state, cancel_requested_at IS NOT NULL
