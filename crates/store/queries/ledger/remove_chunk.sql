-- Removes chunk $2 of task $1 from the ledger (to apply it again), returning its counts.
DELETE FROM task_chunks
 WHERE task_id = $1 AND chunk_no = $2
RETURNING records::int8, succeeded::int8, failed::int8
