-- The server's WAL insert position, as a byte count from its start.
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::BIGINT
