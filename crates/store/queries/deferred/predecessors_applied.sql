-- How many chunks before `$3` of task `$2` are in the ledger.
SELECT count(*) FROM task_chunks WHERE domain_id = $1 AND task_id = $2 AND chunk_no < $3
