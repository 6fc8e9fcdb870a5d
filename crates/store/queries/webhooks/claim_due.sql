-- Up to $1 due deliveries that no other dispatcher holds, leased for $2 seconds, with their
-- endpoint's URL and sealed signing secrets. Fair between domains: a domain gets at most $5
-- deliveries less those this dispatcher already sends for it ($3 domains, $4 counts), and
-- every domain's first due delivery comes before any domain's second.
WITH busy AS (
    SELECT * FROM unnest($3::bigint[], $4::int4[]) AS b (domain_id, sending)
), ranked AS (
    SELECT domain_id, id,
           row_number() OVER (PARTITION BY domain_id ORDER BY next_attempt_at, id) AS place
      FROM webhook_deliveries
     WHERE state = 'pending' AND next_attempt_at <= now()
), due AS (
    SELECT d.domain_id, d.id
      FROM webhook_deliveries d
      JOIN ranked r ON r.domain_id = d.domain_id AND r.id = d.id
      LEFT JOIN busy b ON b.domain_id = d.domain_id
     WHERE r.place <= $5::int4 - coalesce(b.sending, 0)
     ORDER BY r.place, d.next_attempt_at
     LIMIT $1
       FOR UPDATE OF d SKIP LOCKED
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
