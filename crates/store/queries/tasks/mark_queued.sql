-- created → queued, once every chunk is durably published.
UPDATE tasks SET state = CASE WHEN state = 'created' THEN 'queued' ELSE state END
 WHERE id = $1
RETURNING state
