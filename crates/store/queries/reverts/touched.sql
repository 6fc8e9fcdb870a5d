-- Every core profile task $2 created or changed, in id order, and whether it created it.
SELECT id, bool_or(created) AS created
  FROM (SELECT unnest(core_profile_ids) AS id, true AS created
          FROM revert_created WHERE task_id = $2 AND domain_id = $1
        UNION ALL
        SELECT core_profile_id, false FROM revert_marks WHERE task_id = $2 AND domain_id = $1) t
 GROUP BY id
 ORDER BY id
