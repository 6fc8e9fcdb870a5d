-- Baseline of B2: one set-based UPDATE from the staged rows.
UPDATE core_profiles p SET last_city = s.last_city, age = s.age, user_persona = s.user_persona,
       custom_fields = (coalesce(p.custom_fields::jsonb, '{}') || s.custom_fields)::json,
       updated_at = now()
  FROM staging s WHERE p.id = s.id
