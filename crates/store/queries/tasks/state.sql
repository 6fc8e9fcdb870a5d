-- A task's state, whatever its domain (the operator's view).
SELECT state FROM tasks WHERE id = $1
