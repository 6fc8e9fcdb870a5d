-- Locks the domain's profiles among $2 in id order and names them with their version: core
-- writers lock them for update, app profile writers for sharing, so no writer of these profiles
-- runs meanwhile.
SELECT id, version FROM core_profiles WHERE domain_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE
