-- A new upload $2 of domain $1: $3 bytes announced, metadata $4, incomplete until $5 — unless
-- the domain's uploads not yet made into tasks would then announce more than $6 bytes in all.
INSERT INTO uploads (domain_id, id, length, metadata, expires_at)
SELECT $1, $2, $3, $4, $5
 WHERE (SELECT coalesce(sum(length), 0)::BIGINT FROM uploads
         WHERE domain_id = $1 AND task_id IS NULL) + $3::BIGINT <= $6::BIGINT
RETURNING id
