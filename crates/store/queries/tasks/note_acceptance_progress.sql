-- A task accepted in batches stored another batch: the stall detector, which looks for tasks
-- without progress, leaves it alone while its acceptance goes on.
UPDATE tasks SET last_progress_at = greatest(last_progress_at, clock_timestamp())
 WHERE domain_id = $1 AND id = $2
