-- queued → processing, when a worker picks up a chunk.
UPDATE tasks SET state = 'processing', started_at = coalesce(started_at, now())
 WHERE domain_id = $1 AND id = $2 AND state = 'queued'
