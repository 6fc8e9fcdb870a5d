-- open → completed (canceled): an export canceled before it was planned has no records.
UPDATE tasks SET state = 'completed', outcome = 'canceled', completed_at = clock_timestamp(),
       last_progress_at = clock_timestamp()
 WHERE domain_id = $1 AND id = $2 AND state <> 'completed'
