//! Field values that must survive a round trip exactly: numbers as their text, non-negative
//! decimals, and custom field values (strings, numbers, booleans, structured JSON).

pub mod custom;
pub mod decimal;
pub mod metadata;
pub mod number;
pub mod structured;
pub mod version;

pub use custom::{CustomFields, CustomValue};
pub use decimal::Decimal;
pub use metadata::MetadataValue;
pub use version::Version;
