-- Sets the requests-per-minute limit ($2, NULL for the default) of the domain $1.
UPDATE domains SET rate_limit_per_minute = $2 WHERE name = $1
