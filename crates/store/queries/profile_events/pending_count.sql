-- How many events wait in the outbox (either layout).
SELECT coalesce(sum(coalesce(cardinality(profile_ids), cardinality(event_ids))), 0)::int8
  FROM profile_event_outbox
