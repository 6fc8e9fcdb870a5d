-- One domain's task created with an idempotency key, with its request hash and whether the
-- key is older than $3 hours.
SELECT id, domain_id, action, state, outcome, input_format, total, processed, succeeded, failed,
       chunks_total, chunks_done, failure_reason, created_at, started_at, completed_at,
       last_progress_at, stalled_since, stall_reason, options, expired_at,
       cancel_requested_at, parent_task_id,
       ARRAY(SELECT c.id FROM tasks c
              WHERE c.domain_id = tasks.domain_id AND c.parent_task_id = tasks.id
              ORDER BY c.id) AS child_task_ids,
       request_hash,
       created_at < now() - make_interval(hours => $3::int4) AS expired
  FROM tasks
 WHERE domain_id = $1 AND idempotency_key = $2
