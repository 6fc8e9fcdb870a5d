-- The numbers of the chunks of task $1 in the ledger.
SELECT chunk_no FROM task_chunks WHERE task_id = $1
