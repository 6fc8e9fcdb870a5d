-- Locks the domain's app profiles among $2 in pid order and reads them.
SELECT a.pid, a.core_profile_id, a.app_id, a.custom_fields, a.user_persona,
       a.user_paying_segment, a.user_vip_segment, a.user_level, a.accepted_t_and_c, a.app_status,
       a.user_support_status, a.country, a.city, a.language, a.app_rating::text AS app_rating,
       a.lifetime_value::text AS lifetime_value, a.version
  FROM app_profiles a
 WHERE a.domain_id = $1 AND a.pid = ANY($2)
 ORDER BY a.pid
   FOR UPDATE
