-- queued → processing, when a worker picks up a chunk (or created → processing, for a task
-- accepted in batches whose first chunks arrive while the rest are stored). It runs before the
-- chunk's gate, so the gate finds such a task `processing`, never `created`.
UPDATE tasks SET state = 'processing', started_at = coalesce(started_at, now())
 WHERE domain_id = $1 AND id = $2
   AND (state = 'queued' OR (state = 'created' AND accepted_in_batches))
