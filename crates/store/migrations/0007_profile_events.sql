-- Outbox of profile events (EXT): written in the chunk's transaction, deleted once the broker
-- confirmed them, so that an event is published if and only if its change committed.
CREATE TABLE profile_event_outbox (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
