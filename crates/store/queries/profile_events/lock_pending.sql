-- Up to $1 of the oldest outbox rows that no other relay holds, locked.
SELECT id, event_ids, routing_keys, bodies
  FROM profile_event_outbox
 ORDER BY id
 LIMIT $1
   FOR UPDATE SKIP LOCKED
