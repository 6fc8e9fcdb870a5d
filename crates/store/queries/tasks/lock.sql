-- The row lock that holds workers back until the gateway has published every chunk.
SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE
