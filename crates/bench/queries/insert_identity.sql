INSERT INTO identities (domain_id, kind, normalized, value, core_profile_id)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
