-- Keeps a chunk that arrived before its predecessor was applied.
INSERT INTO deferred_chunks (task_id, chunk_no, body) VALUES ($1, $2, $3)
ON CONFLICT (task_id, chunk_no) DO NOTHING
