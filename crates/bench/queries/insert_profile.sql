-- The hand-written worker's per-row insert (B6 reference).
INSERT INTO core_profiles (id, domain_id, names, tags, custom_fields, last_country, last_city, age,
                           lifetime_value, user_persona, preferred_language, last_active_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::numeric, $10, $11, $12) ON CONFLICT DO NOTHING
