//! Export selectors (EXT): `{"all": true}`, `{"updated_since": <epoch ms>}` and
//! `{"identity": {"email": "..."}}` pick whole sets of profiles instead of listing ids.

use crate::identity::IdentityKind;
use serde::{Deserialize, Serialize};

/// The keys that make a `get_*` record a selector.
pub const SELECTOR_KEYS: [&str; 3] = ["all", "updated_since", "identity"];

/// Which profiles an export selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportSelector {
    All,
    /// Profiles updated at or after this millisecond (epoch milliseconds, inclusive).
    UpdatedSince(i64),
    /// The profile owning this identity.
    Identity {
        kind: IdentityKind,
        normalized: String,
    },
}
