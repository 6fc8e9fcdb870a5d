-- Bytes on disk of the current database.
SELECT pg_database_size(current_database())
