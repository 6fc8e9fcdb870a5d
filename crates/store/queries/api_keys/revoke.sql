-- Revokes the key $1 unless it is revoked already.
UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL
