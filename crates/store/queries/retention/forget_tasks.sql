-- Deletes up to $2 task rows that expired more than $1 days ago.
DELETE FROM tasks WHERE (domain_id, id) IN (
    SELECT domain_id, id FROM tasks
     WHERE expired_at < now() - make_interval(days => $1::int4)
     ORDER BY expired_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED
)
