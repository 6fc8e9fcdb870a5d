-- Whether this server has replayed the log up to $1 (a server that is not a standby has).
SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)
