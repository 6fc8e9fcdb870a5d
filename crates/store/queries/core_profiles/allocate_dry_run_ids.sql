-- Reserves $1 ids for profiles a dry run creates and rolls back.
SELECT nextval('dry_run_profile_ids') FROM generate_series(1, $1::int)
