-- Bytes on disk (tables, TOAST and indexes) of the profile tables' partitions.
SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::BIGINT
  FROM pg_inherits i
 WHERE i.inhparent IN ('core_profiles'::regclass, 'identities'::regclass, 'app_profiles'::regclass)
