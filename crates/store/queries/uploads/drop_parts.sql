-- The parts of upload $2 of domain $1, once its task holds every record.
DELETE FROM upload_parts WHERE domain_id = $1 AND upload_id = $2
