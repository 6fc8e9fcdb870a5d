-- The key with id $1 and its domain.
SELECT k.secret_hash, k.read_only, k.revoked_at IS NOT NULL AS revoked,
       d.id, d.name, d.rate_limit_per_minute, d.record_limit, d.upload_record_limit
  FROM api_keys k
  JOIN domains d ON d.id = k.domain_id
 WHERE k.key_id = $1
