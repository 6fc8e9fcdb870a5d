//! Identifiers: domain (tenant) ids, task ids (time-ordered, below 2^53) and core profile ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Largest integer a JSON client can hold exactly (2^53 - 1).
pub const MAX_JSON_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A domain's (tenant's) id, as stored in `domains.id`. Every per-domain row and query carries
/// it, so it is a type of its own rather than one more `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainId(i64);

impl DomainId {
    pub const fn new(id: i64) -> DomainId {
        DomainId(id)
    }

    /// The id as stored in a PostgreSQL `bigint`.
    pub const fn as_i64(self) -> i64 {
        self.0
    }
}

impl From<i64> for DomainId {
    fn from(value: i64) -> Self {
        DomainId(value)
    }
}

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Random low bits appended to the millisecond timestamp of a task id.
const TASK_ID_RANDOM_BITS: u32 = 10;

/// A task id: milliseconds since the Unix epoch shifted left by 10 bits plus 10 random bits.
/// Time-ordered, not sequential, 16 digits today and below 2^53 until the year 2248.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(u64);

impl TaskId {
    /// Builds an id from a timestamp and a random number (only its low 10 bits are used).
    pub fn from_parts(unix_millis: u64, random: u64) -> TaskId {
        let mask = (1u64 << TASK_ID_RANDOM_BITS) - 1;
        TaskId(((unix_millis << TASK_ID_RANDOM_BITS) | (random & mask)) & MAX_JSON_SAFE_INTEGER)
    }

    /// A fresh id for the current time.
    pub fn generate() -> TaskId {
        use rand::RngExt;
        let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
        TaskId::from_parts(millis, rand::rng().random::<u64>())
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The id as stored in a PostgreSQL `bigint`.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// Milliseconds since the Unix epoch at which the id was generated.
    pub fn unix_millis(self) -> u64 {
        self.0 >> TASK_ID_RANDOM_BITS
    }
}

/// A task id path segment that is not a number below 2^53.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a task id (digits only, below 2^53)")]
pub struct InvalidTaskId(pub String);

impl FromStr for TaskId {
    type Err = InvalidTaskId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidTaskId(text.to_owned()));
        }
        match text.parse::<u64>() {
            Ok(value) if value <= MAX_JSON_SAFE_INTEGER => Ok(TaskId(value)),
            _ => Err(InvalidTaskId(text.to_owned())),
        }
    }
}

impl From<i64> for TaskId {
    fn from(value: i64) -> Self {
        TaskId(value as u64)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A task as the database keys it: its domain first (the distribution column of every
/// per-domain table), then its id, which is unique within the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub domain_id: DomainId,
    pub task_id: TaskId,
}

impl TaskKey {
    pub const fn new(domain_id: DomainId, task_id: TaskId) -> TaskKey {
        TaskKey { domain_id, task_id }
    }
}

impl fmt::Display for TaskKey {
    /// The task id alone, as clients know it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.task_id.fmt(f)
    }
}

/// The id of a core profile (`core-profile-id`), a positive JSON-safe integer (read back from
/// the store as it is: a dry run's throw-away ids are negative, see [`CoreProfileId::is_dry_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sql",
    derive(postgres_types::ToSql, postgres_types::FromSql),
    postgres(transparent)
)]
#[serde(transparent)]
pub struct CoreProfileId(i64);

impl CoreProfileId {
    /// Accepts positive integers below 2^53.
    pub fn new(value: i64) -> Option<CoreProfileId> {
        (value > 0 && value as u64 <= MAX_JSON_SAFE_INTEGER).then_some(CoreProfileId(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Whether this is a throw-away id a dry run gave a profile it would create (negative,
    /// from their own sequence; never stored, never shown).
    pub fn is_dry_run(self) -> bool {
        self.0 < 0
    }
}

impl FromStr for CoreProfileId {
    type Err = InvalidCoreProfileId;

    /// Decimal digits of a valid id.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<i64>()
            .ok()
            .and_then(CoreProfileId::new)
            .ok_or_else(|| InvalidCoreProfileId(text.to_owned()))
    }
}

/// A text that is not a core profile id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a core profile id: {0}")]
pub struct InvalidCoreProfileId(pub String);

impl fmt::Display for CoreProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A new app profile id: `{domain}_profile_{40 hex}`.
pub fn new_app_profile_pid(domain: &str) -> String {
    use rand::RngExt;
    let random: [u8; 20] = rand::rng().random();
    format!("{domain}_profile_{}", crate::api_key::to_hex(&random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_time_ordered_and_json_safe() {
        let earlier = TaskId::from_parts(1_742_792_448_000, 1023);
        let later = TaskId::from_parts(1_742_792_448_001, 0);
        assert!(earlier < later);
        assert!(later.get() <= MAX_JSON_SAFE_INTEGER);
        assert_eq!(later.unix_millis(), 1_742_792_448_001);
        assert_eq!(TaskId::generate().to_string().len(), 16);
    }

    #[test]
    fn task_id_path_segments_must_be_small_digit_strings() {
        assert_eq!(
            "2537897885211136".parse::<TaskId>().map(TaskId::get),
            Ok(2537897885211136)
        );
        for bad in [
            "",
            "abc",
            "-1",
            "1e5",
            "99999999999999999999",
            "9007199254740992",
            " 12",
        ] {
            assert!(bad.parse::<TaskId>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn app_profile_pids_have_the_documented_shape() {
        let pid = new_app_profile_pid("demo");
        let hex = pid.strip_prefix("demo_profile_").unwrap();
        assert_eq!(hex.len(), 40);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(pid, new_app_profile_pid("demo"));
    }

    #[test]
    fn core_profile_ids_are_positive_and_json_safe() {
        assert!(CoreProfileId::new(0).is_none());
        assert!(CoreProfileId::new(-4).is_none());
        assert!(CoreProfileId::new(1 << 53).is_none());
        assert_eq!(CoreProfileId::new(42).map(CoreProfileId::get), Some(42));
    }
}
