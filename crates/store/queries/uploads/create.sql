-- A new upload $2 of domain $1: $3 bytes announced, metadata $4, incomplete until $5.
INSERT INTO uploads (domain_id, id, length, metadata, expires_at) VALUES ($1, $2, $3, $4, $5)
