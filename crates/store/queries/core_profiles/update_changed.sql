-- Writes the columns whose bit is set in each row's mask (the bits of `CoreField`: 1 names,
-- 2 tags, 3 custom_fields, 4 full_privacy_enabled, 5 last_country, 6 last_city, 7 age,
-- 8 lifetime_value, 9 user_persona, 10 user_vip_segment, 11 user_support_status,
-- 12 accepted_t_and_c, 13 preferred_language, 14 last_active_date, 15 version) and moves
-- `updated_at`.
UPDATE core_profiles p SET
    names = CASE WHEN u.mask & (1 << 1) <> 0 THEN u.names ELSE p.names END,
    tags = CASE WHEN u.mask & (1 << 2) <> 0 THEN u.tags ELSE p.tags END,
    custom_fields = CASE WHEN u.mask & (1 << 3) <> 0 THEN u.custom_fields ELSE p.custom_fields END,
    full_privacy_enabled = CASE WHEN u.mask & (1 << 4) <> 0 THEN u.privacy ELSE p.full_privacy_enabled END,
    last_country = CASE WHEN u.mask & (1 << 5) <> 0 THEN u.country ELSE p.last_country END,
    last_city = CASE WHEN u.mask & (1 << 6) <> 0 THEN u.city ELSE p.last_city END,
    age = CASE WHEN u.mask & (1 << 7) <> 0 THEN u.age ELSE p.age END,
    lifetime_value = CASE WHEN u.mask & (1 << 8) <> 0 THEN u.ltv::numeric ELSE p.lifetime_value END,
    user_persona = CASE WHEN u.mask & (1 << 9) <> 0 THEN u.persona ELSE p.user_persona END,
    user_vip_segment = CASE WHEN u.mask & (1 << 10) <> 0 THEN u.vip ELSE p.user_vip_segment END,
    user_support_status = CASE WHEN u.mask & (1 << 11) <> 0 THEN u.support ELSE p.user_support_status END,
    accepted_t_and_c = CASE WHEN u.mask & (1 << 12) <> 0 THEN u.tandc ELSE p.accepted_t_and_c END,
    preferred_language = CASE WHEN u.mask & (1 << 13) <> 0 THEN u.lang ELSE p.preferred_language END,
    last_active_date = CASE WHEN u.mask & (1 << 14) <> 0 THEN u.last_active ELSE p.last_active_date END,
    version = CASE WHEN u.mask & (1 << 15) <> 0 THEN u.version ELSE p.version END,
    updated_at = now()
  FROM unnest($2::int8[], $3::int4[], $4::jsonb[], $5::jsonb[], $6::json[], $7::bool[],
              $8::text[], $9::text[], $10::int2[], $11::text[], $12::text[], $13::text[],
              $14::text[], $15::bool[], $16::text[], $17::int8[], $18::int8[])
       AS u(id, mask, names, tags, custom_fields, privacy, country, city, age, ltv, persona,
            vip, support, tandc, lang, last_active, version)
 WHERE p.domain_id = $1 AND p.id = u.id
