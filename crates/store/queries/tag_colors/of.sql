-- The colours of the given tags that have one.
SELECT tag, color FROM tag_colors WHERE domain_id = $1 AND tag = ANY($2)
