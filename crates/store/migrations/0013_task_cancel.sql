-- Task control (EXT): when a cancel was requested. Chunks not applied by then are completed
-- with per-record CANCELED errors, and the task ends with outcome `canceled`.
ALTER TABLE tasks ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE tasks DROP CONSTRAINT tasks_outcome_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_outcome_check
    CHECK (outcome IN ('succeeded', 'completed_with_errors', 'failed', 'canceled'));
