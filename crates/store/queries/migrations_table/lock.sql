-- Serialises concurrent migrators (advisory lock $1).
SELECT pg_advisory_lock($1)
