-- Retention: a completed task expires after the retention period (its outcome blobs in
-- `task_chunks` are deleted, its row stays with `expired_at` set, so its status still answers),
-- and the row itself is deleted a second period later.
ALTER TABLE tasks ADD COLUMN expired_at TIMESTAMPTZ;
CREATE INDEX tasks_by_expiry ON tasks (expired_at) WHERE expired_at IS NOT NULL;
