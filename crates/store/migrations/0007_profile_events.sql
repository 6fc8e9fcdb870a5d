-- Outbox of profile events (EXT): one row per applied chunk with its events, written in the
-- chunk's transaction and deleted once the broker confirmed them, so that an event is published
-- if and only if its change committed.
CREATE TABLE profile_event_outbox (
    id BIGSERIAL PRIMARY KEY,
    event_ids TEXT[] NOT NULL,
    routing_keys TEXT[] NOT NULL,
    bodies TEXT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
