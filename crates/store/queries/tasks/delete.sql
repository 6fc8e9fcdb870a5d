-- Withdraws a task nothing of which was applied; an upload it claimed is free again.
WITH released AS (
    UPDATE uploads SET task_id = NULL WHERE domain_id = $1 AND task_id = $2
)
DELETE FROM tasks WHERE domain_id = $1 AND id = $2
