-- Every identity of the given profiles.
SELECT core_profile_id, kind, value, metadata
  FROM identities
 WHERE domain_id = $1 AND core_profile_id = ANY($2)
 ORDER BY core_profile_id, kind, normalized
