-- The deferred chunk `$3` of task `$2`, if its predecessors are all in the ledger.
SELECT d.body
  FROM deferred_chunks d
 WHERE d.domain_id = $1 AND d.task_id = $2 AND d.chunk_no = $3
   AND (SELECT count(*) FROM task_chunks c WHERE c.domain_id = d.domain_id AND c.task_id = d.task_id AND c.chunk_no < d.chunk_no)
       = d.chunk_no
