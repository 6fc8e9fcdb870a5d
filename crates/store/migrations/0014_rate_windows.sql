-- Rate limits shared by every gateway and status replica: one row per counter (a domain, or a
-- product's counter of a domain) with its fixed 60-second window. UNLOGGED: a crash only
-- restarts the windows.
CREATE UNLOGGED TABLE rate_windows (
    key        TEXT PRIMARY KEY,
    window_end TIMESTAMPTZ NOT NULL,
    used       INTEGER NOT NULL
);
