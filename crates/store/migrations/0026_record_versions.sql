-- External record versions (EXT, issue 28): the highest version applied to each core and app
-- profile (NULL until a record carries one). The before-images gain the column at the same
-- position as their tables (the capture triggers copy rows with `o.*`), so a revert restores
-- the version too; the outbox keeps each event's version beside its profile (NULL when no
-- event of the chunk has one). Adding a nullable column without a default rewrites nothing.
ALTER TABLE core_profiles ADD COLUMN version BIGINT;
ALTER TABLE core_profile_images ADD COLUMN version BIGINT;
ALTER TABLE app_profiles ADD COLUMN version BIGINT;
ALTER TABLE app_profile_images ADD COLUMN version BIGINT;
ALTER TABLE profile_event_outbox ADD COLUMN versions BIGINT[];
