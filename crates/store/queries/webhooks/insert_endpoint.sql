-- Registers an endpoint of a domain.
INSERT INTO webhook_endpoints (domain_id, url, events, secret)
VALUES ($1, $2, $3, $4)
RETURNING id, url, events, created_at
