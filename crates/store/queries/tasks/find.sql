-- A task of one domain.
SELECT id, domain_id, action, state, outcome, input_format, total, processed, succeeded, failed,
       chunks_total, chunks_done, failure_reason, created_at, started_at, completed_at,
       last_progress_at, stalled_since, stall_reason, options, expired_at,
       cancel_requested_at
  FROM tasks
 WHERE id = $1 AND domain_id = $2
