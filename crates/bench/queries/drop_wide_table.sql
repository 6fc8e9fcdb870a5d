DROP TABLE wide_profiles
