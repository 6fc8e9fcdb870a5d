-- Moves upload $2's offset from $3 by $4 bytes when it is still at $3, stays within its length
-- and has not expired; returns the new offset (no row: it moved meanwhile, or cannot take them).
UPDATE uploads SET received = received + $4
 WHERE domain_id = $1 AND id = $2 AND received = $3 AND received + $4 <= length
   AND expires_at >= now()
RETURNING received
