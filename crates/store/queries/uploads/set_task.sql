-- Upload $2 of domain $1 is claimed by task $3 (committed before the task's acceptance reads
-- the parts, so that no other task can claim it meanwhile).
UPDATE uploads SET task_id = $3 WHERE domain_id = $1 AND id = $2
