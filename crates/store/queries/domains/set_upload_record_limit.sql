-- Sets the records-per-upload-task limit ($2, NULL for the default) of the domain $1.
UPDATE domains SET upload_record_limit = $2 WHERE name = $1
