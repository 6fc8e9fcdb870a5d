-- Deletes up to $1 uploads past their expiry, with their parts; returns how many. An incomplete
-- upload expires at `expires_at`; a complete one (made into a task or not) one expiry period
-- later, so that there is time to make a task of it.
WITH expired AS (
    SELECT domain_id, id FROM uploads
     WHERE expires_at < now()
       AND (received < length OR expires_at + (expires_at - created_at) < now())
     ORDER BY expires_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
)
DELETE FROM uploads u USING expired e WHERE u.domain_id = e.domain_id AND u.id = e.id
