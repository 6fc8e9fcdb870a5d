-- How many endpoints a domain has.
SELECT count(*) FROM webhook_endpoints WHERE domain_id = $1
