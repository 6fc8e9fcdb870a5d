-- The pids of existing app profiles for (core profile, app) pairs.
SELECT a.core_profile_id, a.app_id, a.pid
  FROM app_profiles a
  JOIN unnest($2::int8[], $3::text[]) AS k(core, app)
    ON a.core_profile_id = k.core AND a.app_id = k.app
 WHERE a.domain_id = $1
