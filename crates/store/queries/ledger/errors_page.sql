-- A page of a task's error blobs in record order, after the position ($3, $4) =
-- (first_index, chunk_no) of the last blob read, with each blob's frame (NULL for blobs stored
-- before frames existed).
SELECT first_index, chunk_no, errors, errors_crc32, errors_size, errors_last_index
  FROM task_chunks
 WHERE domain_id = $1 AND task_id = $2 AND failed > 0 AND (first_index, chunk_no) > ($3, $4)
 ORDER BY first_index, chunk_no
 LIMIT $5
