-- Every open task and the tasks completed in the last $1 seconds, with their domain's name;
-- open ones first, newest first within each group; at most $2.
WITH open_tasks AS (
    SELECT domain_id, id, 0 AS grp, row_number() OVER (ORDER BY id DESC) AS pos
      FROM tasks
     WHERE state <> 'completed'
     ORDER BY id DESC
     LIMIT $2
), recent_tasks AS (
    SELECT domain_id, id, 1 AS grp, row_number() OVER (ORDER BY completed_at DESC) AS pos
      FROM tasks
     WHERE completed_at > now() - make_interval(secs => $1)
     ORDER BY completed_at DESC
     LIMIT $2
), picked AS (
    SELECT * FROM open_tasks
    UNION ALL
    SELECT * FROM recent_tasks
     ORDER BY grp, pos
     LIMIT $2
)
SELECT d.name AS domain_name,
       t.id, t.domain_id, t.action, t.state, t.outcome, t.input_format, t.total, t.processed,
       t.succeeded, t.failed, t.chunks_total, t.chunks_done, t.failure_reason, t.created_at,
       t.started_at, t.completed_at, t.last_progress_at, t.stalled_since, t.stall_reason,
       t.options, t.expired_at, t.cancel_requested_at, t.parent_task_id,
       ARRAY(SELECT c.id FROM tasks c
              WHERE c.domain_id = t.domain_id AND c.parent_task_id = t.id
              ORDER BY c.id) AS child_task_ids
  FROM picked p
  JOIN tasks t ON t.domain_id = p.domain_id AND t.id = p.id
  JOIN domains d ON d.id = t.domain_id
 ORDER BY p.grp, p.pos
