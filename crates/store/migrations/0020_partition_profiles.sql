-- Profiles partitioned by domain (issue 16): core profiles, identities and app profiles become
-- hash-partitioned by `domain_id` (8 partitions), and `domain_id` leads every primary and
-- unique key and every index, so a domain's statements touch one partition and the same keys
-- work on Citus with `domain_id` as the distribution column. An existing database is converted
-- in place: each table is copied into its partitioned successor in this migration's
-- transaction (plan for the time of one full copy of the profile tables).

CREATE PROCEDURE make_hash_partitions(parent TEXT, modulus INT) LANGUAGE plpgsql AS $$
BEGIN
    FOR remainder IN 0 .. modulus - 1 LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
            parent || '_p' || remainder, parent, modulus, remainder);
    END LOOP;
END
$$;

-- Core profiles: the key (domain_id, id) replaces both the id key and the (domain_id, id) index.
ALTER TABLE core_profiles RENAME TO core_profiles_unpartitioned;
ALTER INDEX core_profiles_pkey RENAME TO core_profiles_unpartitioned_pkey;
CREATE TABLE core_profiles (
    LIKE core_profiles_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE,
    CONSTRAINT core_profiles_pkey PRIMARY KEY (domain_id, id)
) PARTITION BY HASH (domain_id);
CALL make_hash_partitions('core_profiles', 8);
INSERT INTO core_profiles SELECT * FROM core_profiles_unpartitioned;
DROP TABLE core_profiles_unpartitioned;
CREATE INDEX core_profiles_by_domain_updated ON core_profiles (domain_id, updated_at);

-- Identities: the key already leads with domain_id; the owner index and the one-uid rule do now.
ALTER TABLE identities RENAME TO identities_unpartitioned;
ALTER INDEX identities_pkey RENAME TO identities_unpartitioned_pkey;
CREATE TABLE identities (
    LIKE identities_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE,
    CONSTRAINT identities_pkey PRIMARY KEY (domain_id, kind, normalized)
) PARTITION BY HASH (domain_id);
CALL make_hash_partitions('identities', 8);
INSERT INTO identities SELECT * FROM identities_unpartitioned;
DROP TABLE identities_unpartitioned;
CREATE INDEX identities_by_profile ON identities (domain_id, core_profile_id);
CREATE UNIQUE INDEX identities_one_uid_per_profile ON identities (domain_id, core_profile_id)
    WHERE kind = 'uid';

-- App profiles: the key (domain_id, pid) replaces the pid key and the (domain_id, pid) index.
ALTER TABLE app_profiles RENAME TO app_profiles_unpartitioned;
ALTER INDEX app_profiles_pkey RENAME TO app_profiles_unpartitioned_pkey;
ALTER INDEX app_profiles_domain_id_core_profile_id_app_id_key
    RENAME TO app_profiles_unpartitioned_app_key;
CREATE TABLE app_profiles (
    LIKE app_profiles_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE,
    CONSTRAINT app_profiles_pkey PRIMARY KEY (domain_id, pid),
    CONSTRAINT app_profiles_domain_id_core_profile_id_app_id_key
        UNIQUE (domain_id, core_profile_id, app_id)
) PARTITION BY HASH (domain_id);
CALL make_hash_partitions('app_profiles', 8);
INSERT INTO app_profiles SELECT * FROM app_profiles_unpartitioned;
DROP TABLE app_profiles_unpartitioned;
CREATE INDEX app_profiles_by_core_profile ON app_profiles (domain_id, core_profile_id);
CREATE INDEX app_profiles_by_domain_updated ON app_profiles (domain_id, updated_at);

DROP PROCEDURE make_hash_partitions(TEXT, INT);

-- The revert triggers of migration 0019 went with the old tables: the same on the new ones
-- (statement triggers on a partitioned table see the rows of every partition). Identities
-- added to existing profiles are recognised within the domain's partition.
CREATE OR REPLACE FUNCTION revert_capture_identity_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO identity_images
    SELECT task, true, n.* FROM new_rows n
     WHERE EXISTS (SELECT 1 FROM core_profiles p
                    WHERE p.domain_id = n.domain_id AND p.id = n.core_profile_id)
    ON CONFLICT DO NOTHING;
    PERFORM revert_mark(task, array_agg(n.domain_id), array_agg(n.core_profile_id))
       FROM new_rows n
      WHERE EXISTS (SELECT 1 FROM core_profiles p
                     WHERE p.domain_id = n.domain_id AND p.id = n.core_profile_id)
     HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER revert_capture_core_update AFTER UPDATE ON core_profiles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_core_update();
CREATE TRIGGER revert_capture_identity_insert AFTER INSERT ON identities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_identity_insert();
CREATE TRIGGER revert_capture_identity_update AFTER UPDATE ON identities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_identity_update();
CREATE TRIGGER revert_capture_app_insert AFTER INSERT ON app_profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_app_insert();
CREATE TRIGGER revert_capture_app_update AFTER UPDATE ON app_profiles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION revert_capture_app_update();
