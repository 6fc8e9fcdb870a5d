-- Retries of failed records (issue 15): a child task names the task it retries; a parent lists
-- its children through the partial index.
ALTER TABLE tasks ADD COLUMN parent_task_id BIGINT;
CREATE INDEX tasks_by_parent ON tasks (domain_id, parent_task_id)
    WHERE parent_task_id IS NOT NULL;
