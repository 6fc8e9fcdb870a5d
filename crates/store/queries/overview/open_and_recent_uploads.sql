-- Uploads not yet made into a task, and those begun in the last $1 seconds, with their domain's
-- name; newest first; at most $2.
SELECT d.name AS domain_name, u.id, u.metadata ->> 'filename' AS filename, u.received,
       u.length, u.task_id, u.created_at
  FROM uploads u
  JOIN domains d ON d.id = u.domain_id
 WHERE u.task_id IS NULL OR u.created_at > now() - make_interval(secs => $1)
 ORDER BY u.created_at DESC
 LIMIT $2
