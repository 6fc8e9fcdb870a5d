-- A page of a task's result blobs in record order, after the position ($3, $4) =
-- (first_index, chunk_no) of the last blob read, with each blob's frame (NULL for blobs stored
-- before frames existed).
SELECT first_index, chunk_no, results, results_crc32, results_size, results_last_index
  FROM task_chunks
 WHERE domain_id = $1 AND task_id = $2 AND succeeded > 0 AND (first_index, chunk_no) > ($3, $4)
 ORDER BY first_index, chunk_no
 LIMIT $5
