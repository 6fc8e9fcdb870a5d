-- A stored profile found by its uid (the oracle's spot checks).
SELECT p.id, p.last_city, p.age::int8, p.user_persona, p.custom_fields, p.last_country, p.tags
  FROM core_profiles p JOIN identities i ON i.core_profile_id = p.id
 WHERE i.kind = 'uid' AND i.normalized = $1
