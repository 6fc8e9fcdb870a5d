-- Deletes up to $1 incomplete uploads past their expiry, with their parts; returns how many.
WITH expired AS (
    SELECT domain_id, id FROM uploads
     WHERE expires_at < now() AND received < length
     ORDER BY expires_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
)
DELETE FROM uploads u USING expired e WHERE u.domain_id = e.domain_id AND u.id = e.id
