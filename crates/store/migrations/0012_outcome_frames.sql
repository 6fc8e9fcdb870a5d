-- Outcome blobs a zip writer can copy as they are: the lines of a chunk's results and errors are
-- stored joined by ",\n" as deflate data that stops at a byte boundary without a final block,
-- and each blob's frame (CRC-32 and size of its text, index of its last line) is kept beside it.
-- Rows written before have no frame (NULL) and are read the old way.
ALTER TABLE task_chunks
    ADD COLUMN results_crc32 INT4,
    ADD COLUMN results_size INT8,
    ADD COLUMN results_last_index INT8,
    ADD COLUMN errors_crc32 INT4,
    ADD COLUMN errors_size INT8,
    ADD COLUMN errors_last_index INT8;

-- The blobs are deflated already: PostgreSQL's own compression (pglz) cannot shrink them and
-- only spends CPU trying, so they are stored out of line as they are.
ALTER TABLE task_chunks
    ALTER COLUMN results SET STORAGE EXTERNAL,
    ALTER COLUMN errors SET STORAGE EXTERNAL;
