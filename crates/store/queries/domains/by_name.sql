-- The domain named $1.
SELECT id, name, rate_limit_per_minute, record_limit, upload_record_limit FROM domains WHERE name = $1
