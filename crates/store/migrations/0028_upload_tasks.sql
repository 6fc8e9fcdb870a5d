-- Tasks from uploads (issue 29): the task an upload became (set once, in the transaction that
-- accepts the task, when its parts are dropped), and each domain's records per upload task
-- (NULL: the server default).
ALTER TABLE uploads ADD COLUMN task_id BIGINT;
ALTER TABLE domains ADD COLUMN upload_record_limit INTEGER;
-- Complete uploads expire too (one expiry period after incomplete ones would): the sweeper
-- looks at every upload by its expiry.
DROP INDEX uploads_by_expiry;
CREATE INDEX uploads_by_expiry ON uploads (expires_at);
-- An upload's bytes are stored as sent (often gzip already) and read back twice when it becomes
-- a task: out of line, but without PostgreSQL's own compression.
ALTER TABLE upload_parts ALTER COLUMN bytes SET STORAGE EXTERNAL;
