-- The claim check (issue 27): the records of each chunk a task is accepted with are stored here,
-- compressed, in the transaction that queues the task, and the broker carries only a small
-- reference (`userhub.chunk.v2`). The worker takes the row in the chunk's own transaction, so a
-- redelivery before the commit reads the same records and one after it finds the chunk in the
-- ledger; a chunk given up on (dead-lettered) keeps its row for a replay, and retention removes
-- what is left with its task. The bodies are compressed by the gateway: PostgreSQL does not
-- compress them again.
CREATE TABLE chunk_bodies (
    domain_id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    chunk_no INTEGER NOT NULL,
    records BYTEA NOT NULL,
    PRIMARY KEY (domain_id, task_id, chunk_no),
    CONSTRAINT chunk_bodies_task_fkey FOREIGN KEY (domain_id, task_id)
        REFERENCES tasks (domain_id, id) ON DELETE CASCADE
);
ALTER TABLE chunk_bodies ALTER COLUMN records SET STORAGE EXTERNAL;
