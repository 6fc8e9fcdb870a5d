-- Resumable uploads (tus 1.0, issue 29): one row per upload and its bytes in parts of a few MiB,
-- so that an upload begun on one gateway process resumes on another and survives restarts.
-- `received` is the tus `Upload-Offset`; a part is written with the move of `received` in one
-- transaction, so the two never disagree.
CREATE TABLE uploads (
    domain_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    length BIGINT NOT NULL CHECK (length >= 0),
    received BIGINT NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= length),
    metadata JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (domain_id, id)
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at) WHERE received < length;

CREATE TABLE upload_parts (
    domain_id BIGINT NOT NULL,
    upload_id TEXT NOT NULL,
    start_offset BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (domain_id, upload_id, start_offset),
    FOREIGN KEY (domain_id, upload_id) REFERENCES uploads (domain_id, id) ON DELETE CASCADE
);
