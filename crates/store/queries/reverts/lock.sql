-- Locks the domain's profiles among $2 in id order (as every writer does) and names them.
SELECT id FROM core_profiles WHERE domain_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE
