-- The core profile and app of each of the domain's app profiles among $2.
SELECT pid, core_profile_id, app_id FROM app_profiles WHERE domain_id = $1 AND pid = ANY($2)
