-- Deferred chunks whose predecessors are all applied but that nobody published again (the
-- process that applied the predecessor stopped first), deferred at least $1 ms ago.
SELECT d.domain_id, d.task_id, d.chunk_no, d.body
  FROM deferred_chunks d
 WHERE d.deferred_at < now() - $1 * interval '1 millisecond'
   AND (SELECT count(*) FROM task_chunks c WHERE c.domain_id = d.domain_id AND c.task_id = d.task_id AND c.chunk_no < d.chunk_no)
       = d.chunk_no
 LIMIT 100
