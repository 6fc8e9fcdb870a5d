-- The profile that owns the identity ($2 kind, $3 normalised value) in the domain $1.
SELECT core_profile_id FROM identities
 WHERE domain_id = $1 AND kind = $2 AND normalized = $3
 ORDER BY core_profile_id
