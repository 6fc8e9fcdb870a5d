-- Locks the domain's profiles among $2 in id order (concurrent chunks cannot deadlock) and
-- reads their fields; a row locked after waiting is read in its newest version.
SELECT p.id, p.names, p.tags, p.custom_fields, p.full_privacy_enabled, p.last_country,
       p.last_city, p.age, p.lifetime_value::text, p.user_persona, p.user_vip_segment,
       p.user_support_status, p.accepted_t_and_c, p.preferred_language, p.last_active_date,
       p.version
  FROM core_profiles p
 WHERE p.domain_id = $1 AND p.id = ANY($2)
 ORDER BY p.id
   FOR UPDATE
