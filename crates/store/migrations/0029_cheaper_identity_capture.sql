-- Reverts capture an identity insert more cheaply (issue 27): the profiles that already existed
-- are found with one index scan per domain (`id = ANY`) instead of a probe per inserted row, run
-- twice; a statement that adds identities only to profiles it creates (every create, most
-- upserts) then stops there. What is captured is unchanged.
CREATE OR REPLACE FUNCTION revert_capture_identity_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task BIGINT := revert_capture_task();
    domain BIGINT;
    owners BIGINT[];
    existing BIGINT[];
BEGIN
    IF task IS NULL THEN
        RETURN NULL;
    END IF;
    FOR domain, owners IN
        SELECT n.domain_id, array_agg(DISTINCT n.core_profile_id) FROM new_rows n GROUP BY n.domain_id
    LOOP
        SELECT array_agg(p.id) INTO existing
          FROM core_profiles p
         WHERE p.domain_id = domain AND p.id = ANY (owners);
        CONTINUE WHEN existing IS NULL;
        INSERT INTO identity_images
        SELECT task, true, n.*
          FROM new_rows n
          JOIN unnest(existing) AS e (id) ON e.id = n.core_profile_id
         WHERE n.domain_id = domain
        ON CONFLICT DO NOTHING;
        PERFORM revert_mark(task, array_fill(domain, ARRAY[cardinality(existing)]), existing);
    END LOOP;
    RETURN NULL;
END
$$;
