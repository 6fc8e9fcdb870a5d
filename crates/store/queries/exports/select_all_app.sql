-- The app profile pids of the domain $1 in pid order.
SELECT pid FROM app_profiles WHERE domain_id = $1 ORDER BY pid
