-- The deferred chunk `$2` of task `$1`, if its predecessors are all in the ledger.
SELECT d.body
  FROM deferred_chunks d
 WHERE d.task_id = $1 AND d.chunk_no = $2
   AND (SELECT count(*) FROM task_chunks c WHERE c.task_id = d.task_id AND c.chunk_no < d.chunk_no)
       = d.chunk_no
