-- queued → processing, when a worker picks up a chunk.
UPDATE tasks SET state = 'processing', started_at = coalesce(started_at, now())
 WHERE id = $1 AND state = 'queued'
