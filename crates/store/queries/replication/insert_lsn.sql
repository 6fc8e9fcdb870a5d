-- Where the primary's write-ahead log ends now: every change committed so far lies before it.
SELECT pg_current_wal_insert_lsn()::text
