-- The state under a share lock that lets the task's other chunks proceed in parallel.
SELECT state, cancel_requested_at IS NOT NULL FROM tasks WHERE domain_id = $1 AND id = $2 FOR KEY SHARE
