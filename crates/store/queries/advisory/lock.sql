-- Waits for and takes the session's advisory lock $1.
SELECT pg_advisory_lock($1)
