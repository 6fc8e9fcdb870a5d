-- For each profile $2 (created by task $3 when $4), the task that changed it after task $3
-- did, not counting changes already reverted: the latest such task, or NULL.
SELECT t.id,
       (SELECT o.task_id
          FROM revert_marks o
         WHERE o.domain_id = $1 AND o.core_profile_id = t.id AND o.task_id <> $3
           AND o.reverted_by IS NULL
           AND (t.created OR o.last_seq > coalesce(m.first_seq, 0))
         ORDER BY o.last_seq DESC
         LIMIT 1) AS later_task
  FROM unnest($2::bigint[], $4::bool[]) AS t (id, created)
  LEFT JOIN revert_marks m
    ON m.domain_id = $1 AND m.core_profile_id = t.id AND m.task_id = $3
