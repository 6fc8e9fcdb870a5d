-- How many chunks before `$2` of task `$1` are in the ledger.
SELECT count(*) FROM task_chunks WHERE task_id = $1 AND chunk_no < $2
