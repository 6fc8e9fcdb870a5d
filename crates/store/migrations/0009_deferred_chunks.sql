-- Chunks of a task whose chunks apply in input order (upserts) that arrived before their
-- predecessor was applied: kept here (durably, before the message is acknowledged) until the
-- predecessor commits, then published again.
CREATE TABLE deferred_chunks (
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    chunk_no INTEGER NOT NULL,
    body BYTEA NOT NULL,
    deferred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, chunk_no)
);
