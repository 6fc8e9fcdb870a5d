-- Stops an endpoint's previous secret from signing now; whether the endpoint exists.
UPDATE webhook_endpoints
   SET previous_secret = NULL, previous_secret_expires_at = NULL
 WHERE domain_id = $1 AND id = $2
