-- Tasks accepted in batches (a task from an upload): their chunks are stored and published a
-- batch at a time while the task is still `created`, and a worker applies them without waiting
-- for `queued`. Any other task in `created` is one whose acceptance was interrupted.
ALTER TABLE tasks ADD COLUMN accepted_in_batches BOOLEAN NOT NULL DEFAULT false;
