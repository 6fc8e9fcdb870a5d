-- The time now in whole seconds since the epoch.
SELECT floor(extract(epoch FROM now()))::int8
