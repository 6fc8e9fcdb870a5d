SELECT max(id) FROM tasks
