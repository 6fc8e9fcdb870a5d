-- Writes the columns whose bit is set in each row's mask (the bits of `AppField`: 0
-- custom_fields, 1 user_persona, 2 user_paying_segment, 3 user_vip_segment, 4 user_level,
-- 5 accepted_t_and_c, 6 app_status, 7 user_support_status, 8 country, 9 city, 10 language,
-- 11 app_rating, 12 lifetime_value, 13 version) and moves `updated_at`.
UPDATE app_profiles a SET
    custom_fields = CASE WHEN u.mask & (1 << 0) <> 0 THEN u.custom_fields ELSE a.custom_fields END,
    user_persona = CASE WHEN u.mask & (1 << 1) <> 0 THEN u.persona ELSE a.user_persona END,
    user_paying_segment = CASE WHEN u.mask & (1 << 2) <> 0 THEN u.paying ELSE a.user_paying_segment END,
    user_vip_segment = CASE WHEN u.mask & (1 << 3) <> 0 THEN u.vip ELSE a.user_vip_segment END,
    user_level = CASE WHEN u.mask & (1 << 4) <> 0 THEN u.level ELSE a.user_level END,
    accepted_t_and_c = CASE WHEN u.mask & (1 << 5) <> 0 THEN u.tandc ELSE a.accepted_t_and_c END,
    app_status = CASE WHEN u.mask & (1 << 6) <> 0 THEN u.status ELSE a.app_status END,
    user_support_status = CASE WHEN u.mask & (1 << 7) <> 0 THEN u.support ELSE a.user_support_status END,
    country = CASE WHEN u.mask & (1 << 8) <> 0 THEN u.country ELSE a.country END,
    city = CASE WHEN u.mask & (1 << 9) <> 0 THEN u.city ELSE a.city END,
    language = CASE WHEN u.mask & (1 << 10) <> 0 THEN u.language ELSE a.language END,
    app_rating = CASE WHEN u.mask & (1 << 11) <> 0 THEN u.rating::numeric ELSE a.app_rating END,
    lifetime_value = CASE WHEN u.mask & (1 << 12) <> 0 THEN u.ltv::numeric ELSE a.lifetime_value END,
    version = CASE WHEN u.mask & (1 << 13) <> 0 THEN u.version ELSE a.version END,
    updated_at = now()
  FROM unnest($2::text[], $3::int4[], $4::json[], $5::text[], $6::text[], $7::text[],
              $8::int4[], $9::bool[], $10::text[], $11::text[], $12::text[], $13::text[],
              $14::text[], $15::text[], $16::text[], $17::int8[])
       AS u(pid, mask, custom_fields, persona, paying, vip, level, tandc, status, support,
            country, city, language, rating, ltv, version)
 WHERE a.domain_id = $1 AND a.pid = u.pid
