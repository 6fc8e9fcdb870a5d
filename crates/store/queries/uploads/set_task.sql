-- Upload $2 of domain $1 became task $3: its parts are no longer needed.
WITH used AS (
    UPDATE uploads SET task_id = $3 WHERE domain_id = $1 AND id = $2
)
DELETE FROM upload_parts WHERE domain_id = $1 AND upload_id = $2
