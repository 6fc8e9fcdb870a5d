-- Profile events kept compactly (issue 13): an outbox row holds what a chunk's events share once
-- (task, chunk, domain, workflow, time) and per event only its profile, action, changed-field
-- list (an index into the row's distinct lists) and app profile; the relay spells the events
-- out. Rows written before keep their spelled-out columns and are published as they are.
ALTER TABLE profile_event_outbox
    ALTER COLUMN event_ids DROP NOT NULL,
    ALTER COLUMN routing_keys DROP NOT NULL,
    ALTER COLUMN bodies DROP NOT NULL,
    ADD COLUMN task_id BIGINT,
    ADD COLUMN chunk_no INTEGER,
    ADD COLUMN domain TEXT,
    ADD COLUMN workflow_id BIGINT,
    ADD COLUMN occurred_at BIGINT,
    ADD COLUMN profile_ids BIGINT[],
    ADD COLUMN created BOOLEAN[],
    ADD COLUMN field_lists TEXT[],
    ADD COLUMN field_list_of SMALLINT[],
    ADD COLUMN pids TEXT[],
    ADD COLUMN app_ids TEXT[],
    ADD CONSTRAINT profile_event_outbox_one_layout
        CHECK ((bodies IS NULL) <> (profile_ids IS NULL));
