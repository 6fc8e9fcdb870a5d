-- Which of the domains named $1 have an endpoint subscribed to `profile.changed`.
SELECT DISTINCT d.name
  FROM domains d
  JOIN webhook_endpoints e ON e.domain_id = d.id
 WHERE d.name = ANY ($1) AND 'profile.changed' = ANY (e.events)
