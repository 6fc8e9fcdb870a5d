UPDATE tasks SET failure_reason = $2 WHERE id = $1
