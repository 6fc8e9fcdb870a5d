-- Webhooks (issue 15): endpoints a domain registered, and one delivery row per event and
-- endpoint, written in the transaction that completes the task (a trigger, so that every way a
-- task completes is covered) and sent by the dispatcher until the endpoint answers 2xx or 24 h
-- have passed.
CREATE TABLE webhook_endpoints (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id),
    url TEXT NOT NULL,
    events TEXT[] NOT NULL,
    secret TEXT NOT NULL,
    -- After a rotation the previous secret also signs, until it expires.
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_by_domain ON webhook_endpoints (domain_id);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The `webhook-id` header: the same on every attempt.
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Attempts stop here (a manual redeliver moves it).
    deadline_at TIMESTAMPTZ NOT NULL DEFAULT now() + interval '24 hours',
    delivered_at TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, message_id);

CREATE FUNCTION enqueue_task_completed_webhooks() RETURNS trigger AS $$
BEGIN
    INSERT INTO webhook_deliveries (domain_id, endpoint_id, message_id, event_type, payload)
    -- The id names this completion: a task replayed after a dead letter completes again and
    -- is announced again under a new id (receivers deduplicate on it).
    SELECT NEW.domain_id, e.id,
           'msg_task_' || NEW.id || '_' || e.id || '_'
               || floor(extract(epoch FROM coalesce(NEW.completed_at, now())) * 1000)::bigint,
           'task.completed',
           json_build_object(
               'type', 'task.completed',
               'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'data', json_build_object(
                   'task_id', NEW.id,
                   'domain', (SELECT name FROM domains WHERE id = NEW.domain_id),
                   'action', NEW.action,
                   'outcome', NEW.outcome,
                   'total', NEW.total,
                   'succeeded', NEW.succeeded,
                   'failed', NEW.failed,
                   'dry_run', coalesce((NEW.options ->> 'dry_run')::boolean, false),
                   'parent_task_id', NEW.parent_task_id))::text
      FROM webhook_endpoints e
     WHERE e.domain_id = NEW.domain_id AND 'task.completed' = ANY (e.events)
       FOR KEY SHARE OF e
    ON CONFLICT (endpoint_id, message_id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tasks_completed_webhooks
    AFTER UPDATE OF state ON tasks
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM 'completed' AND NEW.state = 'completed')
    EXECUTE FUNCTION enqueue_task_completed_webhooks();
