-- A page of a task's error blobs in record order, after the position ($2, $3) =
-- (first_index, chunk_no) of the last blob read, with each blob's frame (NULL for blobs stored
-- before frames existed).
SELECT first_index, chunk_no, errors, errors_crc32, errors_size, errors_last_index
  FROM task_chunks
 WHERE task_id = $1 AND failed > 0 AND (first_index, chunk_no) > ($2, $3)
 ORDER BY first_index, chunk_no
 LIMIT $4
