-- The per-domain task tables keyed by domain first (issue 16), like the profile tables in 0020:
-- `domain_id` leads the primary key of tasks, the chunk ledger, deferred chunks, the profile
-- event outbox, the revert images and the webhook endpoints and deliveries, and the ledger's foreign keys name it, so that the schema
-- can be distributed by `domain_id` (e.g. on Citus) unchanged. Every statement that addresses
-- a task names its domain; the key makes a task id unique within its domain, and inserting a
-- task checks that no other domain has its id.
-- Deploy with the old processes stopped: their statements name the old keys.

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
-- New tasks draw an id no other domain has, and operators find a task by its id alone.
CREATE INDEX tasks_by_id ON tasks (id);

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
         WHERE d.name = substring(o.bodies[1] FROM '"domain"\s*:\s*"([^"]*)"')),
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

-- Webhooks (0018): endpoints and their deliveries, with the completion trigger's conflict
-- target on the new unique key.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey;
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey;
ALTER TABLE webhook_endpoints ADD PRIMARY KEY (domain_id, id);
DROP INDEX webhook_endpoints_by_domain;
ALTER TABLE webhook_deliveries ADD PRIMARY KEY (domain_id, id);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_fkey
    FOREIGN KEY (domain_id, endpoint_id) REFERENCES webhook_endpoints (domain_id, id)
    ON DELETE CASCADE;
DROP INDEX webhook_deliveries_by_endpoint;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (domain_id, endpoint_id, id);
DROP INDEX webhook_deliveries_once;
CREATE UNIQUE INDEX webhook_deliveries_once
    ON webhook_deliveries (domain_id, endpoint_id, message_id);

CREATE OR REPLACE FUNCTION enqueue_task_completed_webhooks() RETURNS trigger AS $$
BEGIN
    INSERT INTO webhook_deliveries (domain_id, endpoint_id, message_id, event_type, payload)
    -- The id names this completion: a task replayed after a dead letter completes again and
    -- is announced again under a new id (receivers deduplicate on it).
    SELECT NEW.domain_id, e.id,
           'msg_task_' || NEW.id || '_' || e.id || '_'
               || floor(extract(epoch FROM coalesce(NEW.completed_at, now())) * 1000)::bigint,
           'task.completed',
           json_build_object(
               'type', 'task.completed',
               'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'data', json_build_object(
                   'task_id', NEW.id,
                   'domain', (SELECT name FROM domains WHERE id = NEW.domain_id),
                   'action', NEW.action,
                   'outcome', NEW.outcome,
                   'total', NEW.total,
                   'succeeded', NEW.succeeded,
                   'failed', NEW.failed,
                   'dry_run', coalesce((NEW.options ->> 'dry_run')::boolean, false),
                   'parent_task_id', NEW.parent_task_id))::text
      FROM webhook_endpoints e
     WHERE e.domain_id = NEW.domain_id AND 'task.completed' = ANY (e.events)
       FOR KEY SHARE OF e
    ON CONFLICT (domain_id, endpoint_id, message_id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
