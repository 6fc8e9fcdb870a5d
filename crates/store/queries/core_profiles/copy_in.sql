-- New core profiles in PostgreSQL's binary COPY format (created_at and updated_at default to now()).
COPY core_profiles (id, domain_id, names, tags, custom_fields, full_privacy_enabled, last_country,
    last_city, age, lifetime_value, user_persona, user_vip_segment, user_support_status,
    accepted_t_and_c, preferred_language, last_active_date, version)
FROM STDIN (FORMAT binary)
