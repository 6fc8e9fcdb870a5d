-- created → completed (failed): the task's acceptance was interrupted.
UPDATE tasks SET state = 'completed', outcome = 'failed', failure_reason = $2,
       completed_at = now(), last_progress_at = now()
 WHERE id = $1 AND state = 'created'
