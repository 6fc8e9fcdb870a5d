-- An upload's parts, compressed with LZ4 as PostgreSQL stores them (issue 27). Stored as sent
-- (0028), a million-record JSONL upload took 472 MB of table and as much WAL, and making it a
-- task deleted 230 000 TOAST rows; with LZ4 the same parts take 84 MB, and a part that is gzip
-- already is stored as it came (PostgreSQL keeps a value raw when compressing does not shrink
-- it). Reading them back costs about what reading the raw bytes did. A server built without
-- LZ4 keeps the parts uncompressed.
DO $$
BEGIN
    ALTER TABLE upload_parts
        ALTER COLUMN bytes SET COMPRESSION lz4,
        ALTER COLUMN bytes SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4: upload parts stay uncompressed';
END
$$;
