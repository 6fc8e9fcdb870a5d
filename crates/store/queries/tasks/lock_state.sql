-- The state under the row lock an export's planning takes.
SELECT state FROM tasks WHERE id = $1 FOR UPDATE
