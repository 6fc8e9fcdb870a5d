-- Baseline (b) of B1: one wide table with the profile columns and uid, email and phone, a
-- unique index on (domain, uid) and an index on (domain, lower(email)).
CREATE TABLE wide_profiles AS SELECT * FROM core_profiles WITH NO DATA;
ALTER TABLE wide_profiles ADD COLUMN uid text, ADD COLUMN email text, ADD COLUMN phone text;
CREATE UNIQUE INDEX ON wide_profiles (domain_id, uid);
CREATE INDEX ON wide_profiles (domain_id, lower(email));
