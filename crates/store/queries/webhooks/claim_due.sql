-- Up to $1 due deliveries that no other dispatcher holds, leased for $2 seconds, with their
-- endpoint's URL and signing secrets.
WITH due AS (
    SELECT domain_id, id
      FROM webhook_deliveries
     WHERE state = 'pending' AND next_attempt_at <= now()
     ORDER BY next_attempt_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET next_attempt_at = now() + make_interval(secs => $2)
  FROM due, webhook_endpoints e
 WHERE d.domain_id = due.domain_id AND d.id = due.id
   AND e.domain_id = d.domain_id AND e.id = d.endpoint_id
RETURNING d.domain_id, d.id, e.url, e.secret,
          CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END
              AS previous_secret,
          d.message_id, d.payload, d.attempts, d.deadline_at < now() AS past_deadline,
          d.next_attempt_at AS lease_until
