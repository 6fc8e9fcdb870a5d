-- Ids of the profiles a dry run creates and rolls back (issue 15): negative, so they never meet
-- a real profile's id, and drawn from their own sequence, so a dry run consumes no real id.
CREATE SEQUENCE dry_run_profile_ids INCREMENT BY -1 START WITH -1 MAXVALUE -1 CACHE 1000;
