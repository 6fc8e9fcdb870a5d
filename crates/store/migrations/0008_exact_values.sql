-- Custom fields are kept as the JSON text they were sent in (`json`, not `jsonb`): numbers keep
-- their digits and notation (`1e308`, `-0.0`), structured values their nulls and key order.
ALTER TABLE core_profiles ALTER COLUMN custom_fields TYPE json USING custom_fields::json;
ALTER TABLE app_profiles ALTER COLUMN custom_fields TYPE json USING custom_fields::json;

-- Identities are unique under Unicode NFC: precomposed and decomposed accents are one value.
-- Rows whose NFC form another row already holds keep their old form (nothing is merged).
UPDATE identities i
   SET normalized = normalize(i.normalized, NFC)
 WHERE i.normalized IS NOT NFC NORMALIZED
   AND NOT EXISTS (
       SELECT 1 FROM identities j
        WHERE j.domain_id = i.domain_id AND j.kind = i.kind
          AND j.normalized = normalize(i.normalized, NFC));
