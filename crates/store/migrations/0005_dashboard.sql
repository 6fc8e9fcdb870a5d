-- The operator dashboard reads recently completed tasks and recently committed chunks.
CREATE INDEX tasks_recently_completed ON tasks (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX task_chunks_by_commit_time ON task_chunks (committed_at);
