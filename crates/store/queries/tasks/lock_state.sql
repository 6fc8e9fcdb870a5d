-- The state under the row lock an export's planning takes.
SELECT state, cancel_requested_at IS NOT NULL FROM tasks WHERE domain_id = $1 AND id = $2 FOR UPDATE
