-- Whether the core profile table has at least doubled in pages since PostgreSQL last analysed it
-- (or it was never analysed and holds data).
SELECT pg_relation_size(c.oid) / current_setting('block_size')::int8 > 2 * c.relpages + 8
       AS outgrown
  FROM pg_class c
 WHERE c.oid = to_regclass('core_profiles')
