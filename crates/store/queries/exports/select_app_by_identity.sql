-- The app profiles of the profile that owns the identity ($2 kind, $3 normalised value)
-- in the domain $1, in pid order.
SELECT a.pid
  FROM app_profiles a
  JOIN identities i ON i.domain_id = a.domain_id AND i.core_profile_id = a.core_profile_id
 WHERE a.domain_id = $1 AND i.kind = $2 AND i.normalized = $3
 ORDER BY a.pid
