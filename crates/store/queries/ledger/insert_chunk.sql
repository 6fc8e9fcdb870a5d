-- A chunk's ledger row with its outcome blobs and their frames; nothing if another delivery
-- of the chunk committed first.
INSERT INTO task_chunks (domain_id, task_id, chunk_no, first_index, records, succeeded, failed,
                         results, results_crc32, results_size, results_last_index,
                         errors, errors_crc32, errors_size, errors_last_index)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (domain_id, task_id, chunk_no) DO NOTHING
