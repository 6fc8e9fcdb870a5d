-- A new task in state `created`.
INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total,
                   idempotency_key, request_hash, chunk_manifest, options, parent_task_id)
VALUES ($1, $2, $3, 'created', $4, $5, $6, $7, $8, $9, $10, $11)
