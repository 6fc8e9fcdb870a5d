-- The numbers of the chunks of task $2 in the ledger.
SELECT chunk_no FROM task_chunks WHERE domain_id = $1 AND task_id = $2
