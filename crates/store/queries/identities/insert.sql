-- New identities in key order (concurrent chunks take the unique index's locks in one order).
INSERT INTO identities (domain_id, kind, normalized, value, metadata, core_profile_id)
SELECT $1, u.kind, u.normalized, u.value, u.metadata, u.owner
  FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int8[]) WITH ORDINALITY
       AS u(kind, normalized, value, metadata, owner, position)
 ORDER BY u.position
