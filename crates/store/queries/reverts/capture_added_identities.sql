-- For the task this transaction captures for (none: nothing), the identities just added to
-- domain $1's profiles that existed before the chunk (owners $2, kinds $3, keys $4, one entry per
-- identity): their images as added, so that a revert removes them, and the owners marked.
WITH existing AS (
    SELECT p.id FROM core_profiles p
     WHERE revert_capture_task() IS NOT NULL AND p.domain_id = $1 AND p.id = ANY ($2::int8[])
), captured AS (
    INSERT INTO identity_images
    SELECT revert_capture_task(), true, i.*
      FROM unnest($2::int8[], $3::text[], $4::text[]) AS n (owner, kind, normalized)
      JOIN existing e ON e.id = n.owner
      JOIN identities i ON i.domain_id = $1 AND i.kind = n.kind AND i.normalized = n.normalized
    ON CONFLICT DO NOTHING
)
SELECT revert_mark(revert_capture_task(), array_fill($1::int8, ARRAY[count(*)::int]),
                   array_agg(e.id ORDER BY e.id))
  FROM existing e
HAVING count(*) > 0
