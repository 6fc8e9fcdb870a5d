UPDATE tasks SET idempotency_key = NULL WHERE domain_id = $1 AND id = $2
