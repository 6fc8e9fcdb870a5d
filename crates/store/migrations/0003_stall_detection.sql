-- Stall detection: which record indexes each chunk holds (so that a lost chunk's records can
-- still be reported), and the stall marker shown in the task status.

ALTER TABLE tasks
    ADD COLUMN chunk_manifest JSONB,
    ADD COLUMN stalled_since TIMESTAMPTZ,
    ADD COLUMN stall_reason TEXT;
