-- created → queued, once every chunk is durably published.
UPDATE tasks SET state = CASE WHEN state = 'created' THEN 'queued' ELSE state END
 WHERE domain_id = $1 AND id = $2
RETURNING state
