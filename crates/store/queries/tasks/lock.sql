-- The row lock that holds workers back until the gateway has published every chunk.
SELECT 1 FROM tasks WHERE domain_id = $1 AND id = $2 FOR UPDATE
