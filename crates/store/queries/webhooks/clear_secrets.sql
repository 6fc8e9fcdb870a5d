-- Up to $1 endpoints whose secrets are still stored in clear text (written before secrets
-- were sealed): clear text starts with the Standard Webhooks prefix, sealed text never does.
SELECT domain_id, id, secret, previous_secret
  FROM webhook_endpoints
 WHERE secret LIKE 'whsec\_%' OR previous_secret LIKE 'whsec\_%'
 ORDER BY domain_id, id
 LIMIT $1
   FOR UPDATE SKIP LOCKED
