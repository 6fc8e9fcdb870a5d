-- Deletes the before-images of up to $2 tasks completed more than $1 days ago and records
-- that they can no longer be reverted. Tasks another sweeper holds are skipped.
WITH expiring AS (
    SELECT domain_id, id FROM tasks
     WHERE completed_at < now() - make_interval(days => $1::int4)
       AND state = 'completed' AND revert_expired_at IS NULL
       AND action IN ('create_core_profiles', 'update_core_profiles', 'upsert_core_profiles',
                      'create_app_profiles', 'update_app_profiles')
     ORDER BY completed_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED
), marks AS (
    DELETE FROM revert_marks WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
), created AS (
    DELETE FROM revert_created WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
), core AS (
    DELETE FROM core_profile_images WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
), identity AS (
    DELETE FROM identity_images WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
), app AS (
    DELETE FROM app_profile_images WHERE (domain_id, task_id) IN (SELECT domain_id, id FROM expiring)
)
UPDATE tasks SET revert_expired_at = now() WHERE (domain_id, id) IN (SELECT domain_id, id FROM expiring)
