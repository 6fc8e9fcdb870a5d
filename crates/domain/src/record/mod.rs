//! Records read from their JSON text exactly once, straight into the validated types of
//! `crate::profile`: no `serde_json::Value` tree on the way. Every problem of a record is
//! collected with the path of the field at fault (up to a cap), so one record's errors are
//! reported together and never affect another record.

pub mod app;
pub mod core;
pub mod export;
pub mod fields;
pub mod identities;
pub mod keys;
pub mod maps;
pub mod object;
pub mod raw;
pub mod read;
pub mod sink;

pub use export::{ExportRequest, ExportTarget, is_selector, parse_export_record};
pub use keys::{RecordKeys, record_keys};
pub use sink::ErrorSink;

use self::app::{AppRecordKeys, read_app_record};
use self::core::read_core_record;
use self::identities::IdentitiesField;
use crate::options::MatchBy;
use crate::profile::app::{AppProfilePatch, NewAppProfile};
use crate::profile::core::{
    CORE_PROFILE_ID_KEY, CoreProfilePatch, CoreProfileUpsert, NewCoreProfile,
};
use crate::record_error::{ErrorCode, FieldError};

fn empty_data(sink: &mut ErrorSink) {
    sink.report("", ErrorCode::EmptyData, "the record changes no field");
}

fn id_required(sink: &mut ErrorSink) {
    sink.report(
        CORE_PROFILE_ID_KEY,
        ErrorCode::MissingRequiredField,
        format!("`{CORE_PROFILE_ID_KEY}` is required"),
    );
}

/// Parses a `create_core_profiles` record.
pub fn parse_new_core_profile(text: &str) -> Result<NewCoreProfile, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let Some(parts) = read_core_record(text, false, &mut sink) else {
        return Err(sink.into_errors());
    };
    let identities = match parts.identities {
        Some(IdentitiesField::Valid(identities)) => Some(identities),
        Some(IdentitiesField::Invalid) => None,
        None | Some(IdentitiesField::Null) => {
            sink.report(
                "identities",
                ErrorCode::MissingRequiredField,
                "`identities` is required: at least one identity",
            );
            None
        }
    };
    match identities {
        Some(identities) if sink.is_empty() => Ok(NewCoreProfile {
            identities,
            fields: parts.fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Identities of an update or upsert: added to the profile, never cleared.
fn added_identities(
    field: Option<IdentitiesField>,
    sink: &mut ErrorSink,
) -> Option<Vec<crate::identity::Identity>> {
    match field {
        None => Some(Vec::new()),
        Some(IdentitiesField::Valid(identities)) => Some(identities),
        Some(IdentitiesField::Invalid) => None,
        Some(IdentitiesField::Null) => {
            sink.report(
                "identities",
                ErrorCode::InvalidValue,
                "identities cannot be cleared; they are only ever added",
            );
            None
        }
    }
}

/// Parses an `update_core_profiles` record.
pub fn parse_core_profile_patch(text: &str) -> Result<CoreProfilePatch, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let Some(parts) = read_core_record(text, true, &mut sink) else {
        return Err(sink.into_errors());
    };
    let id = match parts.id {
        Some(id) => id,
        None => {
            id_required(&mut sink);
            None
        }
    };
    if parts.id_null {
        id_required(&mut sink);
    }
    let identities = added_identities(parts.identities, &mut sink);
    if sink.is_empty()
        && parts.fields.named().is_empty()
        && identities.as_ref().is_some_and(Vec::is_empty)
    {
        empty_data(&mut sink);
    }
    match (id, identities) {
        (Some(id), Some(identities)) if sink.is_empty() => Ok(CoreProfilePatch {
            id,
            identities,
            fields: parts.fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Parses an `upsert_core_profiles` record for `match_by` (which decides whether
/// `core-profile-id` may appear).
pub fn parse_core_profile_upsert(
    text: &str,
    match_by: &MatchBy,
) -> Result<CoreProfileUpsert, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let by_id = *match_by == MatchBy::CoreProfileId;
    let Some(parts) = read_core_record(text, true, &mut sink) else {
        return Err(sink.into_errors());
    };
    if !by_id && (parts.id.is_some() || parts.id_null) {
        sink.report(
            CORE_PROFILE_ID_KEY,
            ErrorCode::UnsupportedKey,
            format!("`{CORE_PROFILE_ID_KEY}` cannot be given when matching by {match_by}"),
        );
    }
    let identities = added_identities(parts.identities, &mut sink);
    let id = parts.id.flatten().filter(|_| by_id);
    match identities {
        Some(identities) if sink.is_empty() => Ok(CoreProfileUpsert {
            id,
            identities,
            fields: parts.fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Parses a `create_app_profiles` record.
pub fn parse_new_app_profile(text: &str) -> Result<NewAppProfile, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let Some(parts) = read_app_record(text, AppRecordKeys::CoreAndApp, &mut sink) else {
        return Err(sink.into_errors());
    };
    if parts.core_profile_id.is_none() {
        id_required(&mut sink);
    }
    if parts.app_id.is_none() {
        sink.report(
            "app_id",
            ErrorCode::MissingRequiredField,
            "`app_id` is required",
        );
    }
    match (parts.core_profile_id.flatten(), parts.app_id.flatten()) {
        (Some(core_profile_id), Some(app_id)) if sink.is_empty() => Ok(NewAppProfile {
            core_profile_id,
            app_id,
            fields: parts.fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Parses an `update_app_profiles` record.
pub fn parse_app_profile_patch(text: &str) -> Result<AppProfilePatch, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let Some(parts) = read_app_record(text, AppRecordKeys::Pid, &mut sink) else {
        return Err(sink.into_errors());
    };
    if parts.pid.is_none() {
        sink.report("pid", ErrorCode::MissingRequiredField, "`pid` is required");
    }
    if sink.is_empty() && parts.fields.named().is_empty() {
        empty_data(&mut sink);
    }
    match parts.pid.flatten() {
        Some(pid) if sink.is_empty() => Ok(AppProfilePatch {
            pid,
            fields: parts.fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
