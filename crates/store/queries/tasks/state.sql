-- A task's state, whatever its domain (the operator's view).
SELECT state FROM tasks WHERE domain_id = $1 AND id = $2
