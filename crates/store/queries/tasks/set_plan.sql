-- An export's plan: profiles, chunks (plan included) and which indexes each chunk holds.
UPDATE tasks SET total = $3, chunks_total = $4, chunk_manifest = $5 WHERE domain_id = $1 AND id = $2
