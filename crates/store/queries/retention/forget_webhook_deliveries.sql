-- Deletes up to $2 webhook deliveries created more than $1 days ago whose 24-hour window is
-- over (delivered, given up, or past their deadline).
DELETE FROM webhook_deliveries WHERE (domain_id, id) IN (
    SELECT domain_id, id FROM webhook_deliveries
     WHERE created_at < now() - make_interval(days => $1::int4) AND deadline_at < now()
     ORDER BY created_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED
)
