-- Deletes upload $2 of domain $1 and its parts; whether it existed.
DELETE FROM uploads WHERE domain_id = $1 AND id = $2 RETURNING id
