-- The pids of the app profiles of the given core profiles, by app.
SELECT core_profile_id, pid
  FROM app_profiles
 WHERE domain_id = $1 AND core_profile_id = ANY($2)
 ORDER BY core_profile_id, app_id, pid
