-- Identity metadata keeps its values as sent (issue 28): a number stays a number with its
-- notation (`"rank": 1E2`), as custom fields do since 0008, so the column is `json` (kept as
-- text) rather than `jsonb` (which would re-spell `1E2` as `100`). Existing metadata was stored
-- as strings and stays so.
ALTER TABLE identities ALTER COLUMN metadata TYPE json USING metadata::json;
ALTER TABLE identity_images ALTER COLUMN metadata TYPE json USING metadata::json;
