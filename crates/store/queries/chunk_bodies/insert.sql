-- Stores the compressed records of chunks `$3` of task `$2` (the claim check).
INSERT INTO chunk_bodies (domain_id, task_id, chunk_no, records)
SELECT $1, $2, chunk.no, chunk.records
  FROM unnest($3::INTEGER[], $4::BYTEA[]) AS chunk (no, records)
