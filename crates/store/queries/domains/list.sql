-- Every domain with its limits and how many keys it has (active, read-only).
SELECT d.id, d.name, d.rate_limit_per_minute, d.record_limit, d.upload_record_limit, d.created_at,
       count(k.key_id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys,
       count(k.key_id) FILTER (WHERE k.revoked_at IS NULL AND k.read_only) AS read_only_keys
  FROM domains d
  LEFT JOIN api_keys k ON k.domain_id = d.id
 GROUP BY d.id
 ORDER BY d.name
