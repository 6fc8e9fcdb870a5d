-- The owners of the given (kind, normalised value) keys that exist.
SELECT i.kind, i.normalized, i.core_profile_id
  FROM identities i
  JOIN unnest($2::text[], $3::text[]) AS k(kind, normalized)
    ON i.kind = k.kind AND i.normalized = k.normalized
 WHERE i.domain_id = $1
