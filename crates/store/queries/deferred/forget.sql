-- Forgets a deferred chunk once it was published again.
DELETE FROM deferred_chunks WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3
