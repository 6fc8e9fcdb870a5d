-- Webhook safety (issue 25): secrets are stored sealed (the application encrypts them with a
-- key from its settings; rows written before keep their clear text until a process with the
-- key seals them), delivery logs are read a page at a time without payloads, and retention
-- deletes old deliveries by their creation time.
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);
