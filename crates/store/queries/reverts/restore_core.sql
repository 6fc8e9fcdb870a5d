-- Gives the domain's profiles $2 back the fields they had before task $3 first changed them;
-- returns each profile with the fields whose value changes back (compared as text: numbers
-- and JSON keep their exact text) and the version it has back.
UPDATE core_profiles p
   SET names = i.names, tags = i.tags, custom_fields = i.custom_fields,
       full_privacy_enabled = i.full_privacy_enabled, last_country = i.last_country,
       last_city = i.last_city, age = i.age, lifetime_value = i.lifetime_value,
       user_persona = i.user_persona, user_vip_segment = i.user_vip_segment,
       user_support_status = i.user_support_status, accepted_t_and_c = i.accepted_t_and_c,
       preferred_language = i.preferred_language, last_active_date = i.last_active_date,
       version = i.version, updated_at = now()
  FROM core_profile_images i, core_profiles cur
 WHERE i.domain_id = $1 AND i.task_id = $3 AND i.id = p.id AND cur.domain_id = $1 AND cur.id = p.id
   AND p.domain_id = $1 AND p.id = ANY($2)
RETURNING p.id, array_remove(ARRAY[
    CASE WHEN cur.names::text IS DISTINCT FROM i.names::text THEN 'names' END,
    CASE WHEN cur.tags::text IS DISTINCT FROM i.tags::text THEN 'tags' END,
    CASE WHEN cur.custom_fields::text IS DISTINCT FROM i.custom_fields::text
         THEN 'custom_fields' END,
    CASE WHEN cur.full_privacy_enabled IS DISTINCT FROM i.full_privacy_enabled
         THEN 'full_privacy_enabled' END,
    CASE WHEN cur.last_country IS DISTINCT FROM i.last_country THEN 'last_country' END,
    CASE WHEN cur.last_city IS DISTINCT FROM i.last_city THEN 'last_city' END,
    CASE WHEN cur.age IS DISTINCT FROM i.age THEN 'age' END,
    CASE WHEN cur.lifetime_value::text IS DISTINCT FROM i.lifetime_value::text
         THEN 'lifetime_value' END,
    CASE WHEN cur.user_persona IS DISTINCT FROM i.user_persona THEN 'user_persona' END,
    CASE WHEN cur.user_vip_segment IS DISTINCT FROM i.user_vip_segment
         THEN 'user_vip_segment' END,
    CASE WHEN cur.user_support_status IS DISTINCT FROM i.user_support_status
         THEN 'user_support_status' END,
    CASE WHEN cur.accepted_t_and_c IS DISTINCT FROM i.accepted_t_and_c
         THEN 'accepted_t_and_c' END,
    CASE WHEN cur.preferred_language IS DISTINCT FROM i.preferred_language
         THEN 'preferred_language' END,
    CASE WHEN cur.last_active_date IS DISTINCT FROM i.last_active_date
         THEN 'last_active_date' END,
    CASE WHEN cur.version IS DISTINCT FROM i.version THEN 'version' END
], NULL) AS fields, p.version
