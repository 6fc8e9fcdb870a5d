-- Removes published outbox rows.
DELETE FROM profile_event_outbox WHERE id = ANY($1)
