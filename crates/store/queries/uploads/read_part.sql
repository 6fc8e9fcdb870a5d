-- The part of upload $2 of domain $1 that starts at byte $3.
SELECT bytes FROM upload_parts WHERE domain_id = $1 AND upload_id = $2 AND start_offset = $3
