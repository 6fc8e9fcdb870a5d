-- Whether the core profile table (all of its partitions) has at least doubled in pages since
-- PostgreSQL last analysed it (or it was never analysed and holds data).
SELECT coalesce(sum(pg_relation_size(c.oid)), 0) / current_setting('block_size')::int8
           > 2 * coalesce(sum(greatest(c.relpages, 0)), 0) + 8
       AS outgrown
  FROM pg_class c
 WHERE c.oid = to_regclass('core_profiles')
    OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('core_profiles'))
