-- One delivery of an endpoint, with its payload.
SELECT d.id, d.message_id, d.event_type, d.state, d.attempts, d.last_status, d.last_error,
       d.created_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at,
       octet_length(d.payload) AS payload_bytes, d.payload
  FROM webhook_deliveries d
 WHERE d.domain_id = $1 AND d.endpoint_id = $2 AND d.id = $3
