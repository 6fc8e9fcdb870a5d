-- A page of a task's error blobs in record order, after the position ($2, $3) =
-- (first_index, chunk_no) of the last blob read.
SELECT first_index, chunk_no, errors
  FROM task_chunks
 WHERE task_id = $1 AND failed > 0 AND (first_index, chunk_no) > ($2, $3)
 ORDER BY first_index, chunk_no
 LIMIT $4
