-- New core profiles, one row per element of the arrays.
INSERT INTO core_profiles (id, domain_id, names, tags, custom_fields, full_privacy_enabled,
    last_country, last_city, age, lifetime_value, user_persona, user_vip_segment,
    user_support_status, accepted_t_and_c, preferred_language, last_active_date)
SELECT u.id, $1, u.names, u.tags, u.custom_fields, u.privacy, u.country, u.city, u.age,
       u.ltv::numeric, u.persona, u.vip, u.support, u.tandc, u.lang, u.last_active
  FROM unnest($2::int8[], $3::jsonb[], $4::jsonb[], $5::json[], $6::bool[], $7::text[],
              $8::text[], $9::int2[], $10::text[], $11::text[], $12::text[], $13::text[],
              $14::bool[], $15::text[], $16::int8[])
       AS u(id, names, tags, custom_fields, privacy, country, city, age, ltv, persona, vip,
            support, tandc, lang, last_active)
