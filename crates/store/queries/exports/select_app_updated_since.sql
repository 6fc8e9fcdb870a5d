-- The app profile pids of the domain $1 updated at or after $2, in pid order.
SELECT pid FROM app_profiles
 WHERE domain_id = $1 AND updated_at >= $2
 ORDER BY pid
