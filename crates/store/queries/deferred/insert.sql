-- Keeps a chunk that arrived before its predecessor was applied.
INSERT INTO deferred_chunks (domain_id, task_id, chunk_no, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (domain_id, task_id, chunk_no) DO NOTHING
