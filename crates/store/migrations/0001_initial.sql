-- Tenants, their API keys, tasks with their chunk ledger, and core profiles with identities.

CREATE TABLE domains (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    rate_limit_per_minute INTEGER CHECK (rate_limit_per_minute > 0),
    record_limit INTEGER CHECK (record_limit > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id),
    secret_hash BYTEA NOT NULL,
    read_only BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

CREATE TABLE tasks (
    id BIGINT PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id),
    action TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'queued', 'processing', 'completed')),
    outcome TEXT CHECK (outcome IN ('succeeded', 'completed_with_errors', 'failed')),
    input_format TEXT NOT NULL,
    total BIGINT NOT NULL,
    chunks_total INTEGER NOT NULL,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    processed BIGINT NOT NULL DEFAULT 0,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    failure_reason TEXT,
    idempotency_key TEXT,
    request_hash BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    last_progress_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tasks_by_domain_newest ON tasks (domain_id, id DESC);
CREATE UNIQUE INDEX tasks_by_idempotency_key ON tasks (domain_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_unfinished ON tasks (last_progress_at) WHERE state <> 'completed';

-- The chunk ledger: one row per applied chunk, written in the chunk's own transaction.
-- `results` and `errors` hold the chunk's per-record outcomes as deflated NDJSON in index order.
CREATE TABLE task_chunks (
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    chunk_no INTEGER NOT NULL,
    first_index BIGINT NOT NULL,
    records INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    results BYTEA,
    errors BYTEA,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, chunk_no)
);

CREATE SEQUENCE core_profile_ids START WITH 1000000001 CACHE 1000;

CREATE TABLE core_profiles (
    id BIGINT PRIMARY KEY,
    domain_id BIGINT NOT NULL,
    names JSONB,
    tags TEXT[],
    custom_fields JSONB,
    full_privacy_enabled BOOLEAN,
    last_country TEXT,
    last_city TEXT,
    age SMALLINT,
    lifetime_value NUMERIC,
    user_persona TEXT,
    user_vip_segment TEXT,
    user_support_status TEXT,
    accepted_t_and_c BOOLEAN,
    preferred_language TEXT,
    last_active_date BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX core_profiles_by_domain ON core_profiles (domain_id, id);

-- A (kind, normalised value) pair belongs to at most one core profile per domain.
CREATE TABLE identities (
    domain_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    normalized TEXT NOT NULL,
    value TEXT NOT NULL,
    core_profile_id BIGINT NOT NULL,
    metadata JSONB,
    PRIMARY KEY (domain_id, kind, normalized)
);
CREATE INDEX identities_by_profile ON identities (core_profile_id);
-- A profile has at most one uid.
CREATE UNIQUE INDEX identities_one_uid_per_profile ON identities (core_profile_id) WHERE kind = 'uid';
