-- Forgets a deferred chunk once it was published again.
DELETE FROM deferred_chunks WHERE task_id = $1 AND chunk_no = $2
