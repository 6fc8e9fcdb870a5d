-- created → completed (failed): the task's acceptance was interrupted (nothing of it was
-- applied); an upload it claimed is free again.
WITH released AS (
    UPDATE uploads SET task_id = NULL WHERE domain_id = $1 AND task_id = $2
)
UPDATE tasks SET state = 'completed', outcome = 'failed', failure_reason = $3,
       completed_at = now(), last_progress_at = now()
 WHERE domain_id = $1 AND id = $2 AND state = 'created'
