-- Tags are kept as a JSON array: written straight from the chunk's parameters (no per-row
-- conversion into text[]) and exported as they are.
ALTER TABLE core_profiles ALTER COLUMN tags TYPE jsonb USING to_jsonb(tags);
