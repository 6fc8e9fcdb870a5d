-- The bytes of upload $2 from offset $3.
INSERT INTO upload_parts (domain_id, upload_id, start_offset, bytes) VALUES ($1, $2, $3, $4)
