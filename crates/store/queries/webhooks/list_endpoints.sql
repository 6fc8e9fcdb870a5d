-- A domain's endpoints, oldest first.
SELECT id, url, events, created_at FROM webhook_endpoints WHERE domain_id = $1 ORDER BY id
