-- A new API key: its id, domain, the SHA-256 of its secret and whether it is read-only.
INSERT INTO api_keys (key_id, domain_id, secret_hash, read_only) VALUES ($1, $2, $3, $4)
