-- Removes the identities task $3 added to the domain's profiles $2 and gives those it changed
-- their value back; returns the profiles whose identities changed.
WITH removed AS (
    DELETE FROM identities d
     USING identity_images i
     WHERE i.task_id = $3 AND i.added AND i.domain_id = $1 AND i.core_profile_id = ANY($2)
       AND d.domain_id = $1 AND d.kind = i.kind AND d.normalized = i.normalized
       AND d.core_profile_id = i.core_profile_id
    RETURNING d.core_profile_id
), restored AS (
    UPDATE identities d
       SET value = i.value, metadata = i.metadata
      FROM identity_images i
     WHERE i.task_id = $3 AND NOT i.added AND i.domain_id = $1
       AND i.core_profile_id = ANY($2)
       AND d.domain_id = $1 AND d.kind = i.kind AND d.normalized = i.normalized
       AND (d.value, d.metadata::text) IS DISTINCT FROM (i.value, i.metadata::text)
    RETURNING d.core_profile_id
)
SELECT core_profile_id FROM removed
UNION
SELECT core_profile_id FROM restored
