-- An export's plan: profiles, chunks (plan included) and which indexes each chunk holds.
UPDATE tasks SET total = $2, chunks_total = $3, chunk_manifest = $4 WHERE id = $1
