-- Removes chunk $3 of task $2 from the ledger (to apply it again), returning its counts.
DELETE FROM task_chunks
 WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3
RETURNING records::int8, succeeded::int8, failed::int8
