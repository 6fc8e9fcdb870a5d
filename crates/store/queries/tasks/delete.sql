DELETE FROM tasks WHERE id = $1
