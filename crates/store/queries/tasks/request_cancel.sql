-- Asks an open task to stop ($2: its domain, or NULL for an operator, who sees every domain).
-- Repeating it keeps the first time. No row: unknown, another domain's, or already completed.
-- A chunk whose transaction was under way when this committed finds it when it counts its
-- progress, and is applied again as canceled.
UPDATE tasks SET cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp())
 WHERE domain_id = $1 AND id = $2 AND state <> 'completed'
RETURNING state, cancel_requested_at
