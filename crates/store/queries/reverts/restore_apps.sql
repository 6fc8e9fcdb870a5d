-- Deletes the app profiles task $3 created for the domain's profiles $2 and gives those it
-- changed their fields back; returns each app profile with `deleted` or the fields whose value
-- changes back, and the version it has back.
WITH removed AS (
    DELETE FROM app_profiles a
     USING app_profile_images i
     WHERE i.task_id = $3 AND i.added AND i.domain_id = $1 AND i.core_profile_id = ANY($2)
       AND a.domain_id = $1 AND a.pid = i.pid
    RETURNING a.core_profile_id, a.pid, a.app_id
), restored AS (
    UPDATE app_profiles a
       SET custom_fields = i.custom_fields, user_persona = i.user_persona,
           user_paying_segment = i.user_paying_segment, user_vip_segment = i.user_vip_segment,
           user_level = i.user_level, accepted_t_and_c = i.accepted_t_and_c,
           app_status = i.app_status, user_support_status = i.user_support_status,
           country = i.country, city = i.city, language = i.language,
           app_rating = i.app_rating, lifetime_value = i.lifetime_value, version = i.version,
           updated_at = now()
      FROM app_profile_images i, app_profiles cur
     WHERE i.task_id = $3 AND NOT i.added AND i.domain_id = $1
       AND i.core_profile_id = ANY($2) AND a.domain_id = $1 AND a.pid = i.pid
       AND cur.domain_id = $1 AND cur.pid = a.pid
    RETURNING a.core_profile_id, a.pid, a.app_id, array_remove(ARRAY[
        CASE WHEN cur.custom_fields::text IS DISTINCT FROM i.custom_fields::text
             THEN 'custom_fields' END,
        CASE WHEN cur.user_persona IS DISTINCT FROM i.user_persona THEN 'user_persona' END,
        CASE WHEN cur.user_paying_segment IS DISTINCT FROM i.user_paying_segment
             THEN 'user_paying_segment' END,
        CASE WHEN cur.user_vip_segment IS DISTINCT FROM i.user_vip_segment
             THEN 'user_vip_segment' END,
        CASE WHEN cur.user_level IS DISTINCT FROM i.user_level THEN 'user_level' END,
        CASE WHEN cur.accepted_t_and_c IS DISTINCT FROM i.accepted_t_and_c
             THEN 'accepted_t_and_c' END,
        CASE WHEN cur.app_status IS DISTINCT FROM i.app_status THEN 'app_status' END,
        CASE WHEN cur.user_support_status IS DISTINCT FROM i.user_support_status
             THEN 'user_support_status' END,
        CASE WHEN cur.country IS DISTINCT FROM i.country THEN 'country' END,
        CASE WHEN cur.city IS DISTINCT FROM i.city THEN 'city' END,
        CASE WHEN cur.language IS DISTINCT FROM i.language THEN 'language' END,
        CASE WHEN cur.app_rating::text IS DISTINCT FROM i.app_rating::text
             THEN 'app_rating' END,
        CASE WHEN cur.lifetime_value::text IS DISTINCT FROM i.lifetime_value::text
             THEN 'lifetime_value' END,
        CASE WHEN cur.version IS DISTINCT FROM i.version THEN 'version' END
    ], NULL) AS fields, a.version
)
SELECT core_profile_id, pid, app_id, NULL::text[] AS fields, NULL::bigint AS version FROM removed
UNION ALL
SELECT core_profile_id, pid, app_id, fields, version FROM restored
