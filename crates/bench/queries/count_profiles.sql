SELECT count(*) FROM core_profiles
