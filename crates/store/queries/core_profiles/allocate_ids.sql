-- Reserves $1 new core profile ids.
SELECT nextval('core_profile_ids') FROM generate_series(1, $1::int)
