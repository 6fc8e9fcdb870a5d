-- The ids of the domain $1 in id order.
SELECT id FROM core_profiles WHERE domain_id = $1 ORDER BY id
