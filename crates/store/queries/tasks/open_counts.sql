SELECT state, count(*) FROM tasks WHERE state <> 'completed' GROUP BY state
