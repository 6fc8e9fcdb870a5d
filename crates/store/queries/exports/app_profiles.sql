-- The domain's app profiles among $2 with their timestamps (no lock: exports read).
SELECT a.pid, a.core_profile_id, a.app_id, a.custom_fields, a.user_persona,
       a.user_paying_segment, a.user_vip_segment, a.user_level, a.accepted_t_and_c, a.app_status,
       a.user_support_status, a.country, a.city, a.language, a.app_rating::text AS app_rating,
       a.lifetime_value::text AS lifetime_value, a.version, a.created_at, a.updated_at
  FROM app_profiles a
 WHERE a.domain_id = $1 AND a.pid = ANY($2)
