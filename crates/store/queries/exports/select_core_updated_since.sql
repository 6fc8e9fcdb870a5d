-- The ids of the domain $1 updated at or after $2, in id order.
SELECT id FROM core_profiles
 WHERE domain_id = $1 AND updated_at >= $2
 ORDER BY id
