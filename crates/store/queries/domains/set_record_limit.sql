-- Sets the records-per-request limit ($2, NULL for the default) of the domain $1.
UPDATE domains SET record_limit = $2 WHERE name = $1
