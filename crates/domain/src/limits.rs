//! Named limits of the contract, used by both the checks and their error messages.

/// Records per request unless the domain says otherwise.
pub const DEFAULT_RECORDS_PER_TASK: usize = 10_000;
/// Identity maps per record.
pub const MAX_IDENTITIES: usize = 30;
/// Metadata entries per identity map (besides the identity key itself).
pub const MAX_IDENTITY_METADATA: usize = 30;
/// Characters of an identity value (`uid` has its own limit).
pub const MAX_IDENTITY_VALUE_CHARS: usize = 300;
/// Characters of a `uid`.
pub const MAX_UID_CHARS: usize = 750;
/// Characters of an identity metadata key or value.
pub const MAX_METADATA_CHARS: usize = 255;
/// Tags per profile.
pub const MAX_TAGS: usize = 30;
/// Characters per tag.
pub const MAX_TAG_CHARS: usize = 100;
/// Custom fields per profile.
pub const MAX_CUSTOM_FIELDS: usize = 30;
/// Characters of a custom field key.
pub const MAX_CUSTOM_FIELD_KEY_CHARS: usize = 255;
/// Characters of a custom field string value.
pub const MAX_CUSTOM_FIELD_VALUE_CHARS: usize = 255;
/// EXT: the largest array or object custom field value, as JSON text.
pub const MAX_CUSTOM_FIELD_JSON_BYTES: usize = 4096;
/// Characters of any other string field (names, city, persona...).
pub const MAX_STRING_CHARS: usize = 255;
/// Characters of an `app_id`.
pub const MAX_APP_ID_CHARS: usize = 64;
/// Bytes of a record echoed back as `input` in the errors file.
pub const MAX_ECHOED_INPUT_BYTES: usize = 4096;
/// Smallest and largest `age`.
pub const AGE_RANGE: std::ops::RangeInclusive<i64> = 1..=149;
/// Epoch milliseconds a date may have: from 0001-01-01 to 9999-12-31 (UTC).
pub const EPOCH_MS_RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800_000..=253_402_300_799_999;
