-- Which of the ids $2 are core profiles of the domain $1.
SELECT id FROM core_profiles WHERE domain_id = $1 AND id = ANY($2)
