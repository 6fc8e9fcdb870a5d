-- Rows written once per chunk hold arrays of a thousand entries (the profiles a chunk created,
-- its events' columns) that PostgreSQL compresses when it stores them. Its default method,
-- pglz, took about 1.2 ms per 8 KB array (issue 27: a few per cent of an import's database CPU);
-- LZ4 takes a hundredth of that. A server built without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE revert_created ALTER COLUMN core_profile_ids SET COMPRESSION lz4;
    ALTER TABLE profile_event_outbox
        ALTER COLUMN profile_ids SET COMPRESSION lz4,
        ALTER COLUMN created SET COMPRESSION lz4,
        ALTER COLUMN field_lists SET COMPRESSION lz4,
        ALTER COLUMN field_list_of SET COMPRESSION lz4,
        ALTER COLUMN pids SET COMPRESSION lz4,
        ALTER COLUMN app_ids SET COMPRESSION lz4,
        ALTER COLUMN versions SET COMPRESSION lz4,
        ALTER COLUMN event_ids SET COMPRESSION lz4,
        ALTER COLUMN routing_keys SET COMPRESSION lz4,
        ALTER COLUMN bodies SET COMPRESSION lz4;
    ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4: chunk arrays stay compressed with pglz';
END
$$;
