-- The fields and timestamps of the domain's core profiles among $2 (no lock: exports read).
SELECT p.id, p.names, p.tags, p.custom_fields, p.full_privacy_enabled, p.last_country,
       p.last_city, p.age, p.lifetime_value::text AS lifetime_value, p.user_persona,
       p.user_vip_segment, p.user_support_status, p.accepted_t_and_c, p.preferred_language,
       p.last_active_date, p.version, p.created_at, p.updated_at
  FROM core_profiles p
 WHERE p.domain_id = $1 AND p.id = ANY($2)
