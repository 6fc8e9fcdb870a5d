-- The outcome of one attempt: delivered, to be tried again at $6, or (no $6) given up — only
-- while the attempt's lease ($7) still holds (a late attempt does not overwrite a newer one).
UPDATE webhook_deliveries
   SET attempts = attempts + 1,
       last_attempt_at = now(),
       last_status = $4,
       last_error = $5,
       state = CASE WHEN $3 THEN 'delivered' WHEN $6::timestamptz IS NULL THEN 'failed'
                    ELSE 'pending' END,
       delivered_at = CASE WHEN $3 THEN now() END,
       next_attempt_at = coalesce($6, next_attempt_at)
 WHERE domain_id = $1 AND id = $2 AND next_attempt_at = $7
