-- How many rows a selection yields: the placeholder below is replaced by one of the
-- select_*.sql files.
SELECT count(*) FROM (
{selection}
) s
