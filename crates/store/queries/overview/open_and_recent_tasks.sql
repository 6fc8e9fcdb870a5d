-- Every open task and the tasks completed in the last $1 seconds, with their domain's name;
-- open ones first, newest first within each group; at most $2.
(SELECT d.name AS domain_name,
        t.id, t.domain_id, t.action, t.state, t.outcome, t.input_format, t.total, t.processed,
        t.succeeded, t.failed, t.chunks_total, t.chunks_done, t.failure_reason, t.created_at,
        t.started_at, t.completed_at, t.last_progress_at, t.stalled_since, t.stall_reason,
        t.options, t.expired_at
   FROM tasks t JOIN domains d ON d.id = t.domain_id
  WHERE t.state <> 'completed'
  ORDER BY t.id DESC LIMIT $2)
UNION ALL
(SELECT d.name AS domain_name,
        t.id, t.domain_id, t.action, t.state, t.outcome, t.input_format, t.total, t.processed,
        t.succeeded, t.failed, t.chunks_total, t.chunks_done, t.failure_reason, t.created_at,
        t.started_at, t.completed_at, t.last_progress_at, t.stalled_since, t.stall_reason,
        t.options, t.expired_at
   FROM tasks t JOIN domains d ON d.id = t.domain_id
  WHERE t.completed_at > now() - make_interval(secs => $1)
  ORDER BY t.completed_at DESC LIMIT $2)
LIMIT $2
