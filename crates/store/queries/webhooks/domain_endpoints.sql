-- A domain's endpoints with their delivery counts, for the operator (by domain name).
SELECT e.id, e.url, e.events, e.created_at,
       count(d.id) FILTER (WHERE d.state = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.state = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.state = 'delivered') AS delivered
  FROM domains n
  JOIN webhook_endpoints e ON e.domain_id = n.id
  LEFT JOIN webhook_deliveries d ON d.domain_id = e.domain_id AND d.endpoint_id = e.id
 WHERE n.name = $1
 GROUP BY e.domain_id, e.id
 ORDER BY e.id
