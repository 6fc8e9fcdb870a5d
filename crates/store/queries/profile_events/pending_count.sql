-- How many events wait in the outbox.
SELECT coalesce(sum(cardinality(event_ids)), 0)::int8 FROM profile_event_outbox
