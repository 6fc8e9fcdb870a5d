-- Replaces an endpoint's secrets by their sealed text, if they are still the clear text read.
UPDATE webhook_endpoints
   SET secret = $4, previous_secret = $6
 WHERE domain_id = $1 AND id = $2 AND secret = $3 AND previous_secret IS NOT DISTINCT FROM $5
