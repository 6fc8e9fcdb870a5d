-- Reverting a task (issue 15): while a revertible task (core or app creates, updates, upserts)
-- applies a chunk, the worker sets `userhub.capture_task` for the chunk's transaction and the
-- statement triggers below keep, per task, the rows as they were before the task first changed
-- them (before-images), the rows it added, and a mark per core profile it touched. Profiles a
-- task created are listed per chunk by the worker (`revert_created`). Nothing is captured when
-- the setting is unset, so other writers (and reverts themselves) pay only the trigger call.
-- Before-images are deleted `retention.revert_days` after the task completed; the task then
-- records `revert_expired_at` and a revert answers 410.
--
-- The image tables copy the profile tables' columns with LIKE: a column added to a profile
-- table must be added to its image table in the same migration (the triggers copy `o.*`).

ALTER TABLE tasks ADD COLUMN revert_expired_at TIMESTAMPTZ;

-- A revert's events include deletions: in the outbox's `created` array, NULL now means
-- `deleted` (true: created, false: updated).

CREATE SEQUENCE revert_mark_seq;

-- A core profile a task changed: the sequence numbers of its first and last change, and the
-- revert task that undid it. Changes to one profile are serialised by its row lock, so a
-- higher sequence number is a later change.
CREATE TABLE revert_marks (
    domain_id BIGINT NOT NULL,
    core_profile_id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    reverted_by BIGINT,
    PRIMARY KEY (domain_id, core_profile_id, task_id)
);
CREATE INDEX revert_marks_by_task ON revert_marks (task_id, core_profile_id);

-- The core profiles one chunk of a task created.
CREATE TABLE revert_created (
    task_id BIGINT NOT NULL,
    chunk_no INTEGER NOT NULL,
    domain_id BIGINT NOT NULL,
    core_profile_ids BIGINT[] NOT NULL,
    PRIMARY KEY (task_id, chunk_no)
);

CREATE TABLE core_profile_images (
    task_id BIGINT NOT NULL,
    LIKE core_profiles,
    PRIMARY KEY (task_id, id)
);

-- An identity as it was before the task changed it, or (`added`) one the task added to an
-- existing profile.
CREATE TABLE identity_images (
    task_id BIGINT NOT NULL,
    added BOOLEAN NOT NULL,
    LIKE identities,
    PRIMARY KEY (task_id, domain_id, kind, normalized)
);
CREATE INDEX identity_images_by_profile ON identity_images (task_id, core_profile_id);

-- An app profile as it was before the task changed it, or (`added`) one the task created.
CREATE TABLE app_profile_images (
    task_id BIGINT NOT NULL,
    added BOOLEAN NOT NULL,
    LIKE app_profiles,
    PRIMARY KEY (task_id, pid)
);
CREATE INDEX app_profile_images_by_profile ON app_profile_images (task_id, core_profile_id);

-- The task whose changes are being captured, or NULL.
CREATE FUNCTION revert_capture_task() RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('userhub.capture_task', true), '')::bigint
$$;

-- Marks `profiles` (domain, core profile) as changed by `task` now: one sequence number for the
-- statement, each mark once, in key order (two chunks of a task that mark the same profiles
-- take their rows in the same order, so they wait for each other instead of deadlocking).
CREATE FUNCTION revert_mark(task BIGINT, domains BIGINT[], profiles BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seq BIGINT := nextval('revert_mark_seq');
BEGIN
    INSERT INTO revert_marks AS m (domain_id, core_profile_id, task_id, first_seq, last_seq)
    SELECT t.d, t.p, task, seq, seq
      FROM (SELECT DISTINCT d, p FROM unnest(domains, profiles) AS u (d, p)) t
     ORDER BY t.d, t.p
    ON CONFLICT (domain_id, core_profile_id, task_id) DO UPDATE SET last_seq = excluded.last_seq;
END
$$;

CREATE FUNCTION revert_capture_core_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO core_profile_images SELECT task, o.* FROM old_rows o ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(o.domain_id), array_agg(o.id)) FROM old_rows o;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_core_update AFTER UPDATE ON core_profiles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_core_update();

CREATE FUNCTION revert_capture_identity_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    -- Identities of profiles created by this statement's chunk are inserted before their
    -- profile: only those added to existing profiles are kept.
    INSERT INTO identity_images
    SELECT task, true, n.* FROM new_rows n
     WHERE EXISTS (SELECT 1 FROM core_profiles p WHERE p.id = n.core_profile_id)
    ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(n.domain_id), array_agg(n.core_profile_id))
       FROM new_rows n
      WHERE EXISTS (SELECT 1 FROM core_profiles p WHERE p.id = n.core_profile_id)
     HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_identity_insert AFTER INSERT ON identities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_identity_insert();

CREATE FUNCTION revert_capture_identity_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO identity_images SELECT task, false, o.* FROM old_rows o ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(o.domain_id), array_agg(o.core_profile_id))
       FROM old_rows o HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_identity_update AFTER UPDATE ON identities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_identity_update();

CREATE FUNCTION revert_capture_app_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO app_profile_images SELECT task, true, n.* FROM new_rows n ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(n.domain_id), array_agg(n.core_profile_id))
       FROM new_rows n HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_app_insert AFTER INSERT ON app_profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_app_insert();

CREATE FUNCTION revert_capture_app_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO app_profile_images SELECT task, false, o.* FROM old_rows o ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(o.domain_id), array_agg(o.core_profile_id))
       FROM old_rows o HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_app_update AFTER UPDATE ON app_profiles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_app_update();
