-- Request-level options of a task (EXT): an upsert's match key, skip_triggers, workflow_id.
ALTER TABLE tasks ADD COLUMN options JSONB NOT NULL DEFAULT '{}';
