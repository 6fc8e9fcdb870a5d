-- A chunk's events as one outbox row.
INSERT INTO profile_event_outbox (event_ids, routing_keys, bodies) VALUES ($1, $2, $3)
