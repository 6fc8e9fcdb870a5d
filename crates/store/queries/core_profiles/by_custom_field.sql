-- Profiles whose custom field $2 holds one of the match keys $3: strings compare exactly,
-- numbers by their plain decimal value (`trim_scale(numeric)`), booleans as true/false. At
-- most $4 profiles per key are returned (lowest ids first), each with how many hold the key.
SELECT key, id, holders
  FROM (SELECT m.key, p.id,
               count(*) OVER (PARTITION BY m.key) AS holders,
               row_number() OVER (PARTITION BY m.key ORDER BY p.id) AS position
          FROM core_profiles p
         CROSS JOIN LATERAL (
               SELECT CASE json_typeof(p.custom_fields -> $2)
                        WHEN 'string' THEN p.custom_fields ->> $2
                        WHEN 'number' THEN trim_scale((p.custom_fields ->> $2)::numeric)::text
                        WHEN 'boolean' THEN p.custom_fields ->> $2
                      END AS key) m
         WHERE p.domain_id = $1 AND p.custom_fields IS NOT NULL AND m.key = ANY($3::text[])) s
 WHERE position <= $4
 ORDER BY key, id
