-- The outcome of one attempt: delivered, to be tried again at $5, or (no $5) given up — only
-- while the attempt's lease ($6) still holds (a late attempt does not overwrite a newer one).
UPDATE webhook_deliveries
   SET attempts = attempts + 1,
       last_attempt_at = now(),
       last_status = $3,
       last_error = $4,
       state = CASE WHEN $2 THEN 'delivered' WHEN $5::timestamptz IS NULL THEN 'failed'
                    ELSE 'pending' END,
       delivered_at = CASE WHEN $2 THEN now() END,
       next_attempt_at = coalesce($5, next_attempt_at)
 WHERE id = $1 AND next_attempt_at = $6
