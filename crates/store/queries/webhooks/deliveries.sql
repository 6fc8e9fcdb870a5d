-- A page of an endpoint's deliveries, newest first: at most $3, older than delivery $4 (all
-- when null), without their payloads.
SELECT d.id, d.message_id, d.event_type, d.state, d.attempts, d.last_status, d.last_error,
       d.created_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at,
       octet_length(d.payload) AS payload_bytes
  FROM webhook_deliveries d
 WHERE d.domain_id = $1 AND d.endpoint_id = $2 AND ($4::int8 IS NULL OR d.id < $4)
 ORDER BY d.id DESC
 LIMIT $3
