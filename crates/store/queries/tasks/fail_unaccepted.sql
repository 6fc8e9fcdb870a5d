-- created → completed (failed): the task's acceptance was interrupted.
UPDATE tasks SET state = 'completed', outcome = 'failed', failure_reason = $3,
       completed_at = now(), last_progress_at = now()
 WHERE domain_id = $1 AND id = $2 AND state = 'created'
