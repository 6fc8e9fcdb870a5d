-- Removes published outbox rows.
DELETE FROM profile_event_outbox o
 USING unnest($1::int8[], $2::int8[]) AS k (domain_id, id)
 WHERE o.domain_id = k.domain_id AND o.id = k.id
