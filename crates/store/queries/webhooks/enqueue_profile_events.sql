-- Queues a `profile.changed` delivery per chunk of profile events ($1 domain names, $2 batch
-- ids, $3 batch bodies) for every endpoint of that domain subscribed to it. The message id
-- names the chunk, so a relay that publishes a chunk again queues nothing twice.
INSERT INTO webhook_deliveries (domain_id, endpoint_id, message_id, event_type, payload)
SELECT e.domain_id, e.id, 'msg_events_' || b.batch_id || '_' || e.id, 'profile.changed',
       '{"type":"profile.changed","timestamp":"'
           || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           || '","data":' || b.body || '}'
  FROM unnest($1::text[], $2::text[], $3::text[]) AS b (domain, batch_id, body)
  JOIN domains d ON d.name = b.domain
  JOIN webhook_endpoints e ON e.domain_id = d.id AND 'profile.changed' = ANY (e.events)
   FOR KEY SHARE OF e
ON CONFLICT (domain_id, endpoint_id, message_id) DO NOTHING
