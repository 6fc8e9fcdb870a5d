-- The per-domain task tables keyed by domain first (issue 16), like the profile tables in 0020:
-- `domain_id` leads the primary key of tasks, the chunk ledger, deferred chunks, the profile
-- event outbox and the revert images, and the ledger's foreign keys name it, so that the schema
-- can be distributed by `domain_id` (e.g. on Citus) unchanged. A task id is now unique within
-- its domain; every statement that addresses a task names its domain.

ALTER TABLE task_chunks ADD COLUMN domain_id BIGINT;
UPDATE task_chunks c SET domain_id = t.domain_id FROM tasks t WHERE t.id = c.task_id;
ALTER TABLE task_chunks ALTER COLUMN domain_id SET NOT NULL;

ALTER TABLE deferred_chunks ADD COLUMN domain_id BIGINT;
UPDATE deferred_chunks c SET domain_id = t.domain_id FROM tasks t WHERE t.id = c.task_id;
ALTER TABLE deferred_chunks ALTER COLUMN domain_id SET NOT NULL;

ALTER TABLE task_chunks DROP CONSTRAINT task_chunks_task_id_fkey;
ALTER TABLE deferred_chunks DROP CONSTRAINT deferred_chunks_task_id_fkey;
ALTER TABLE task_chunks DROP CONSTRAINT task_chunks_pkey;
ALTER TABLE deferred_chunks DROP CONSTRAINT deferred_chunks_pkey;

ALTER TABLE tasks DROP CONSTRAINT tasks_pkey;
ALTER TABLE tasks ADD PRIMARY KEY (domain_id, id);
-- The new primary key serves the newest-first listing of a domain's tasks.
DROP INDEX tasks_by_domain_newest;

ALTER TABLE task_chunks ADD PRIMARY KEY (domain_id, task_id, chunk_no);
ALTER TABLE task_chunks ADD CONSTRAINT task_chunks_task_fkey
    FOREIGN KEY (domain_id, task_id) REFERENCES tasks (domain_id, id) ON DELETE CASCADE;
ALTER TABLE deferred_chunks ADD PRIMARY KEY (domain_id, task_id, chunk_no);
ALTER TABLE deferred_chunks ADD CONSTRAINT deferred_chunks_task_fkey
    FOREIGN KEY (domain_id, task_id) REFERENCES tasks (domain_id, id) ON DELETE CASCADE;

-- The outbox: rows of the compact layout name their task; spelled-out rows (before 0015) name
-- their domain in each event body.
ALTER TABLE profile_event_outbox ADD COLUMN domain_id BIGINT;
UPDATE profile_event_outbox o
   SET domain_id = coalesce(
       (SELECT t.domain_id FROM tasks t WHERE t.id = o.task_id),
       (SELECT d.id FROM domains d WHERE d.name = o.domain),
       (SELECT d.id FROM domains d
         WHERE d.name = coalesce(o.bodies[1]::json ->> 'domain',
                                 o.bodies[1]::json -> 'events' -> 0 ->> 'domain')),
       0);
ALTER TABLE profile_event_outbox ALTER COLUMN domain_id SET NOT NULL;
ALTER TABLE profile_event_outbox DROP CONSTRAINT profile_event_outbox_pkey;
ALTER TABLE profile_event_outbox ADD PRIMARY KEY (domain_id, id);
-- The relay takes the oldest rows of every domain.
CREATE INDEX profile_event_outbox_oldest ON profile_event_outbox (id);

-- Revert images (0019) carry the profile's domain already.
ALTER TABLE revert_created DROP CONSTRAINT revert_created_pkey;
ALTER TABLE revert_created ADD PRIMARY KEY (domain_id, task_id, chunk_no);
ALTER TABLE core_profile_images DROP CONSTRAINT core_profile_images_pkey;
ALTER TABLE core_profile_images ADD PRIMARY KEY (domain_id, task_id, id);
ALTER TABLE identity_images DROP CONSTRAINT identity_images_pkey;
ALTER TABLE identity_images ADD PRIMARY KEY (domain_id, task_id, kind, normalized);
ALTER TABLE app_profile_images DROP CONSTRAINT app_profile_images_pkey;
ALTER TABLE app_profile_images ADD PRIMARY KEY (domain_id, task_id, pid);
DROP INDEX revert_marks_by_task;
CREATE INDEX revert_marks_by_task ON revert_marks (domain_id, task_id, core_profile_id);
DROP INDEX identity_images_by_profile;
CREATE INDEX identity_images_by_profile ON identity_images (domain_id, task_id, core_profile_id);
DROP INDEX app_profile_images_by_profile;
CREATE INDEX app_profile_images_by_profile
    ON app_profile_images (domain_id, task_id, core_profile_id);
