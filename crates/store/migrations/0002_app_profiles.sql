-- App profiles (one per core profile and app) and the index behind `updated_since` exports.

CREATE TABLE app_profiles (
    pid TEXT PRIMARY KEY,
    domain_id BIGINT NOT NULL,
    core_profile_id BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    custom_fields JSONB,
    user_persona TEXT,
    user_paying_segment TEXT,
    user_vip_segment TEXT,
    user_level INTEGER,
    accepted_t_and_c BOOLEAN,
    app_status TEXT,
    user_support_status TEXT,
    country TEXT,
    city TEXT,
    language TEXT,
    app_rating NUMERIC,
    lifetime_value NUMERIC,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (domain_id, core_profile_id, app_id)
);
CREATE INDEX app_profiles_by_core_profile ON app_profiles (core_profile_id);
CREATE INDEX app_profiles_by_domain ON app_profiles (domain_id, pid);
CREATE INDEX app_profiles_by_domain_updated ON app_profiles (domain_id, updated_at);

CREATE INDEX core_profiles_by_domain_updated ON core_profiles (domain_id, updated_at);
