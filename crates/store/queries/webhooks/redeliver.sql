-- Sends a delivery again now (same webhook-id), with a fresh 24-hour window.
UPDATE webhook_deliveries
   SET state = 'pending', next_attempt_at = now(), deadline_at = now() + interval '24 hours'
 WHERE domain_id = $1 AND endpoint_id = $2 AND id = $3
