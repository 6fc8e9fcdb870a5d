UPDATE tasks SET failure_reason = $3 WHERE domain_id = $1 AND id = $2
