-- Whether chunk $3 of task $2 is in the ledger.
SELECT 1 FROM task_chunks WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3
