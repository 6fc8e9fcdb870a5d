-- Locks the domain's profiles among $2 for sharing, in id order, and names them: app profile
-- writers hold their owners so that a revert (which locks them for update) cannot run between
-- their read and their write.
SELECT id FROM core_profiles WHERE domain_id = $1 AND id = ANY($2) ORDER BY id FOR SHARE
