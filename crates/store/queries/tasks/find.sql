-- A task of one domain.
SELECT id, domain_id, action, state, outcome, input_format, total, processed, succeeded, failed,
       chunks_total, chunks_done, failure_reason, created_at, started_at, completed_at,
       last_progress_at, stalled_since, stall_reason, options, expired_at,
       cancel_requested_at, parent_task_id,
       ARRAY(SELECT c.id FROM tasks c
              WHERE c.domain_id = tasks.domain_id AND c.parent_task_id = tasks.id
              ORDER BY c.id) AS child_task_ids
  FROM tasks
 WHERE id = $1 AND domain_id = $2
