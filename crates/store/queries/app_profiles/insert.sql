-- New app profiles whose (core profile, app) pair is free, in the order given (the first of two
-- rows for one pair wins); returns the pids inserted.
INSERT INTO app_profiles (pid, domain_id, core_profile_id, app_id, custom_fields, user_persona,
    user_paying_segment, user_vip_segment, user_level, accepted_t_and_c, app_status,
    user_support_status, country, city, language, app_rating, lifetime_value, version)
SELECT u.pid, $1, u.core, u.app, u.custom_fields, u.persona, u.paying, u.vip, u.level, u.tandc,
       u.status, u.support, u.country, u.city, u.language, u.rating::numeric, u.ltv::numeric,
       u.version
  FROM unnest($2::text[], $3::int8[], $4::text[], $5::json[], $6::text[], $7::text[],
              $8::text[], $9::int4[], $10::bool[], $11::text[], $12::text[], $13::text[],
              $14::text[], $15::text[], $16::text[], $17::text[], $18::int8[]) WITH ORDINALITY
       AS u(pid, core, app, custom_fields, persona, paying, vip, level, tandc, status, support,
            country, city, language, rating, ltv, version, position)
 ORDER BY u.position
ON CONFLICT (domain_id, core_profile_id, app_id) DO NOTHING
RETURNING pid
