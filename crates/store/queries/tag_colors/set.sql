-- Gives tags their colours (a later colour replaces an earlier one).
INSERT INTO tag_colors (domain_id, tag, color)
SELECT $1, u.tag, u.color FROM unnest($2::text[], $3::text[]) AS u(tag, color)
ON CONFLICT (domain_id, tag) DO UPDATE SET color = excluded.color
