-- Serialises matching by custom field $2 in the domain $1 until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 0))
