-- The state under a share lock that lets the task's other chunks proceed in parallel.
SELECT state FROM tasks WHERE id = $1 FOR KEY SHARE
