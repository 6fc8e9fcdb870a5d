-- Rewrites value and metadata of identities their profile already owns (re-added by a record).
UPDATE identities i SET value = u.value, metadata = u.metadata
  FROM unnest($2::text[], $3::text[], $4::text[], $5::json[], $6::int8[])
       AS u(kind, normalized, value, metadata, owner)
 WHERE i.domain_id = $1 AND i.kind = u.kind AND i.normalized = u.normalized
   AND i.core_profile_id = u.owner
