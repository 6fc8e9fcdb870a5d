-- Replaces an endpoint's secret; the old one keeps signing until $4.
UPDATE webhook_endpoints
   SET previous_secret = secret, previous_secret_expires_at = $4, secret = $3
 WHERE domain_id = $1 AND id = $2
RETURNING id, url, events, created_at
