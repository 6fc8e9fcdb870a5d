UPDATE tasks SET idempotency_key = NULL WHERE id = $1
