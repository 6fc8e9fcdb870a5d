-- A task's state.
SELECT state FROM tasks WHERE domain_id = $1 AND id = $2
