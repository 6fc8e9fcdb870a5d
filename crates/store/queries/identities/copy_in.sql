-- New identities in PostgreSQL's binary COPY format, in the order sent (key order: concurrent
-- chunks take the unique index's locks in one order).
COPY identities (domain_id, kind, normalized, value, metadata, core_profile_id)
FROM STDIN (FORMAT binary)
