-- Takes the advisory lock $1 if no other session holds it; whether it did.
SELECT pg_try_advisory_lock($1)
