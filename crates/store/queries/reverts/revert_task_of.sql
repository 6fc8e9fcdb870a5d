-- The revert task made for task $2, if any.
SELECT id FROM tasks
 WHERE domain_id = $1 AND parent_task_id = $2 AND action = 'revert_profiles'
 ORDER BY id
 LIMIT 1
