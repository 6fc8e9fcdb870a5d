-- Expires up to $2 tasks completed more than $1 days ago: deletes their outcome blobs, frees
-- their idempotency keys and marks them expired. Tasks another sweeper holds are skipped.
WITH expiring AS (
    SELECT domain_id, id FROM tasks
     WHERE completed_at < now() - make_interval(days => $1::int4)
       AND state = 'completed' AND expired_at IS NULL
     ORDER BY completed_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED
), blobs AS (
    DELETE FROM task_chunks WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
)
UPDATE tasks SET expired_at = now(), idempotency_key = NULL, request_hash = NULL
 WHERE (domain_id, id) IN (SELECT domain_id, id FROM expiring)
