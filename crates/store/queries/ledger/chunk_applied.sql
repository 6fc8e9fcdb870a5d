-- Whether chunk $2 of task $1 is in the ledger.
SELECT 1 FROM task_chunks WHERE task_id = $1 AND chunk_no = $2
