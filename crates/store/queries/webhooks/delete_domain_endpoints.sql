-- Removes every endpoint of a domain, by name (their deliveries go with them).
DELETE FROM webhook_endpoints e USING domains n
 WHERE n.name = $1 AND e.domain_id = n.id
