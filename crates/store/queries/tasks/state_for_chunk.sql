-- The state under a share lock that lets the task's other chunks proceed in parallel.
SELECT state, cancel_requested_at IS NOT NULL FROM tasks WHERE id = $1 FOR KEY SHARE
