TRUNCATE core_profiles, identities
