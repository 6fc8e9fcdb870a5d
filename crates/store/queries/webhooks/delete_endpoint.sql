-- Removes an endpoint of a domain (its deliveries go with it).
DELETE FROM webhook_endpoints WHERE domain_id = $1 AND id = $2
