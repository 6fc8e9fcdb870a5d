-- Deletes the domain's profiles $2 with their identities and app profiles; returns the app
-- profiles deleted.
WITH apps AS (
    DELETE FROM app_profiles WHERE domain_id = $1 AND core_profile_id = ANY($2)
    RETURNING core_profile_id, pid, app_id
), identities_gone AS (
    DELETE FROM identities WHERE domain_id = $1 AND core_profile_id = ANY($2)
), profiles_gone AS (
    DELETE FROM core_profiles WHERE domain_id = $1 AND id = ANY($2)
)
SELECT core_profile_id, pid, app_id FROM apps
