//! Identities (uid, email, phone number, platform ids): parsing, validation and normalisation.

use crate::limits::{
    MAX_IDENTITIES, MAX_IDENTITY_METADATA, MAX_IDENTITY_VALUE_CHARS, MAX_METADATA_CHARS,
    MAX_UID_CHARS,
};
use crate::object_parser::{ErrorSink, wrong_type};
use crate::record_error::{ErrorCode, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The kinds of identity a profile can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    Uid,
    Email,
    PhoneNumber,
    FacebookId,
    DiscordId,
    WhatsappId,
    GooglePlaystoreId,
    AppleGamecenterId,
    NintendoId,
    PsnId,
    XboxLiveId,
    SteamId,
    /// EXT: an anonymous device (a profile without a user id).
    DeviceId,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 13] = [
        IdentityKind::Uid,
        IdentityKind::Email,
        IdentityKind::PhoneNumber,
        IdentityKind::FacebookId,
        IdentityKind::DiscordId,
        IdentityKind::WhatsappId,
        IdentityKind::GooglePlaystoreId,
        IdentityKind::AppleGamecenterId,
        IdentityKind::NintendoId,
        IdentityKind::PsnId,
        IdentityKind::XboxLiveId,
        IdentityKind::SteamId,
        IdentityKind::DeviceId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Uid => "uid",
            IdentityKind::Email => "email",
            IdentityKind::PhoneNumber => "phone_number",
            IdentityKind::FacebookId => "facebook_id",
            IdentityKind::DiscordId => "discord_id",
            IdentityKind::WhatsappId => "whatsapp_id",
            IdentityKind::GooglePlaystoreId => "google_playstore_id",
            IdentityKind::AppleGamecenterId => "apple_gamecenter_id",
            IdentityKind::NintendoId => "nintendo_id",
            IdentityKind::PsnId => "psn_id",
            IdentityKind::XboxLiveId => "xbox_live_id",
            IdentityKind::SteamId => "steam_id",
            IdentityKind::DeviceId => "device_id",
        }
    }

    fn max_chars(self) -> usize {
        if self == IdentityKind::Uid {
            MAX_UID_CHARS
        } else {
            MAX_IDENTITY_VALUE_CHARS
        }
    }

    /// The form under which values of this kind are compared for uniqueness.
    pub fn normalize(self, value: &str) -> String {
        match self {
            IdentityKind::Email => value.to_lowercase(),
            IdentityKind::PhoneNumber => value
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect(),
            _ => value.to_owned(),
        }
    }

    fn check_value(self, value: &str) -> Result<(), &'static str> {
        match self {
            IdentityKind::Email => {
                let (local, host) = value.split_once('@').ok_or("an email address needs an @")?;
                let plausible = !local.is_empty()
                    && !host.is_empty()
                    && !host.contains('@')
                    && !value.chars().any(char::is_whitespace);
                plausible.then_some(()).ok_or("not a valid email address")
            }
            IdentityKind::PhoneNumber => {
                let normalized = self.normalize(value);
                let digits = normalized.strip_prefix('+').unwrap_or(&normalized);
                let plausible = digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit());
                plausible.then_some(()).ok_or("a phone number may hold only digits, an optional leading +, spaces, dashes, dots and parentheses")
            }
            _ => Ok(()),
        }
    }
}

impl FromStr for IdentityKind {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        IdentityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or(())
    }
}

/// One identity of a profile: a validated, trimmed value with its normalised form and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    kind: IdentityKind,
    value: String,
    normalized: String,
    metadata: BTreeMap<String, String>,
    /// Position in the record's `identities` array, for error paths.
    position: usize,
}

impl Identity {
    /// Records the identity's position in its record's `identities` array.
    pub fn set_position(&mut self, position: usize) {
        self.position = position;
    }

    /// The path of this identity's value in its record, e.g. `identities[2].email`.
    pub fn path(&self) -> String {
        format!("identities[{}].{}", self.position, self.kind.as_str())
    }

    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// The value as given (trimmed).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value under which uniqueness is checked.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The identity as the API shows it: `{"email": "...", <metadata>...}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        for (key, value) in &self.metadata {
            object.insert(key.clone(), Value::String(value.clone()));
        }
        object.insert(
            self.kind.as_str().to_owned(),
            Value::String(self.value.clone()),
        );
        Value::Object(object)
    }

    /// Parses one identity map; errors are reported under `path` (e.g. `identities[0]`).
    pub fn parse(value: &Value, path: &str, sink: &mut ErrorSink) -> Option<Identity> {
        let Some(object) = value.as_object() else {
            sink.push(wrong_type(path, "an object with one identity key"));
            return None;
        };
        let identity_keys: Vec<(&String, IdentityKind)> = object
            .keys()
            .filter_map(|key| key.parse().ok().map(|kind| (key, kind)))
            .collect();
        let [(key, kind)] = identity_keys.as_slice() else {
            let found = identity_keys
                .iter()
                .map(|(key, _)| key.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            sink.push(FieldError::new(
                path,
                ErrorCode::InvalidIdentity,
                format!("an identity map needs exactly one identity key, found [{found}]"),
            ));
            return None;
        };
        let value_path = format!("{path}.{key}");
        let value = Self::parse_value(*kind, &object[key.as_str()], &value_path, sink)?;
        let metadata = Self::parse_metadata(object, key, path, sink)?;
        Some(Identity {
            kind: *kind,
            normalized: kind.normalize(&value),
            value,
            metadata,
            position: 0,
        })
    }

    fn parse_value(
        kind: IdentityKind,
        raw: &Value,
        path: &str,
        sink: &mut ErrorSink,
    ) -> Option<String> {
        let text = match raw {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => {
                sink.push(wrong_type(path, "a non-empty string"));
                return None;
            }
        };
        if text.is_empty() {
            sink.push(FieldError::new(
                path,
                ErrorCode::InvalidIdentity,
                format!("`{path}` is empty"),
            ));
            return None;
        }
        if text.chars().count() > kind.max_chars() {
            sink.push(FieldError::new(
                path,
                ErrorCode::ExceededValueLengthLimit,
                format!("`{path}` is longer than {} characters", kind.max_chars()),
            ));
            return None;
        }
        if let Err(reason) = kind.check_value(&text) {
            sink.push(FieldError::new(
                path,
                ErrorCode::InvalidValue,
                format!("`{path}`: {reason}"),
            ));
            return None;
        }
        Some(text)
    }

    fn parse_metadata(
        object: &Map<String, Value>,
        identity_key: &str,
        path: &str,
        sink: &mut ErrorSink,
    ) -> Option<BTreeMap<String, String>> {
        if object.len() - 1 > MAX_IDENTITY_METADATA {
            sink.push(FieldError::new(
                path,
                ErrorCode::ExceededCountLimit,
                format!("an identity may carry at most {MAX_IDENTITY_METADATA} metadata entries"),
            ));
            return None;
        }
        let mut metadata = BTreeMap::new();
        let mut ok = true;
        for (key, value) in object
            .iter()
            .filter(|(key, _)| key.as_str() != identity_key)
        {
            let entry_path = format!("{path}.{key}");
            if key.chars().count() > MAX_METADATA_CHARS {
                sink.push(FieldError::new(
                    &entry_path,
                    ErrorCode::ExceededKeyLengthLimit,
                    format!("metadata keys may have at most {MAX_METADATA_CHARS} characters"),
                ));
                ok = false;
                continue;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    sink.push(wrong_type(&entry_path, "a string"));
                    ok = false;
                    continue;
                }
            };
            if text.chars().count() > MAX_METADATA_CHARS {
                sink.push(FieldError::new(
                    &entry_path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!("metadata values may have at most {MAX_METADATA_CHARS} characters"),
                ));
                ok = false;
                continue;
            }
            metadata.insert(key.clone(), text);
        }
        ok.then_some(metadata)
    }
}

/// Parses the `identities` array of a record: 1..=30 maps, at most one `uid`, duplicates dropped.
pub fn parse_identities(value: &Value, path: &str, sink: &mut ErrorSink) -> Option<Vec<Identity>> {
    let Some(items) = value.as_array() else {
        sink.push(wrong_type(path, "an array of identity maps"));
        return None;
    };
    if items.is_empty() {
        sink.push(FieldError::new(
            path,
            ErrorCode::EmptyData,
            format!("`{path}` needs at least one identity"),
        ));
        return None;
    }
    if items.len() > MAX_IDENTITIES {
        sink.push(FieldError::new(
            path,
            ErrorCode::ExceededCountLimit,
            format!("at most {MAX_IDENTITIES} identities per record"),
        ));
        return None;
    }
    let mut identities: Vec<Identity> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (position, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{position}]");
        let Some(mut identity) = Identity::parse(item, &item_path, sink) else {
            ok = false;
            continue;
        };
        identity.position = position;
        let duplicate = identities
            .iter()
            .any(|seen| seen.kind == identity.kind && seen.normalized == identity.normalized);
        if duplicate {
            continue;
        }
        if identity.kind == IdentityKind::Uid
            && identities.iter().any(|seen| seen.kind == IdentityKind::Uid)
        {
            sink.push(FieldError::new(
                format!("{item_path}.uid"),
                ErrorCode::InvalidIdentity,
                "a profile has at most one uid",
            ));
            ok = false;
            continue;
        }
        identities.push(identity);
    }
    ok.then_some(identities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> (Option<Vec<Identity>>, Vec<FieldError>) {
        let mut sink = ErrorSink::default();
        let parsed = parse_identities(&value, "identities", &mut sink);
        (parsed, sink.into_errors())
    }

    #[test]
    fn emails_match_case_insensitively_and_phones_ignore_punctuation() {
        let (parsed, errors) = parse(json!([
            {"email": "  Ada@Example.COM ", "source": "crm"},
            {"phone_number": "+1 (555) 010-99.88"}
        ]));
        assert!(errors.is_empty(), "{errors:?}");
        let parsed = parsed.unwrap();
        assert_eq!(parsed[0].value(), "Ada@Example.COM");
        assert_eq!(parsed[0].normalized(), "ada@example.com");
        assert_eq!(parsed[0].metadata()["source"], "crm");
        assert_eq!(parsed[1].normalized(), "+15550109988");
        assert_eq!(
            parsed[0].to_json(),
            json!({"email": "Ada@Example.COM", "source": "crm"})
        );
    }

    #[test]
    fn each_identity_map_needs_exactly_one_identity_key() {
        let (parsed, errors) = parse(json!([{"email": "a@b.c", "uid": "u1"}, {"label": "x"}]));
        assert!(parsed.is_none());
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.code == ErrorCode::InvalidIdentity));
        assert_eq!(errors[1].field, "identities[1]");
    }

    #[test]
    fn bad_values_are_reported_with_the_value_path() {
        let (_, errors) = parse(json!([
            {"email": "not-an-email"},
            {"uid": ""},
            {"steam_id": "x".repeat(301)},
            {"uid": "u".repeat(750)},
            {"phone_number": "call me"}
        ]));
        let found: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            found,
            vec![
                ("identities[0].email", ErrorCode::InvalidValue),
                ("identities[1].uid", ErrorCode::InvalidIdentity),
                (
                    "identities[2].steam_id",
                    ErrorCode::ExceededValueLengthLimit
                ),
                ("identities[4].phone_number", ErrorCode::InvalidValue),
            ]
        );
    }

    #[test]
    fn counts_are_limited_and_a_profile_has_one_uid() {
        let (_, errors) = parse(json!([]));
        assert_eq!(errors[0].code, ErrorCode::EmptyData);
        let many: Vec<Value> = (0..31)
            .map(|i| json!({"steam_id": format!("s{i}")}))
            .collect();
        let (_, errors) = parse(Value::Array(many));
        assert_eq!(errors[0].code, ErrorCode::ExceededCountLimit);
        let (_, errors) = parse(json!([{"uid": "a"}, {"uid": "b"}]));
        assert_eq!(errors[0].code, ErrorCode::InvalidIdentity);
        let (parsed, errors) = parse(json!([{"uid": "a"}, {"uid": " a "}]));
        assert!(errors.is_empty());
        assert_eq!(
            parsed.unwrap().len(),
            1,
            "the same identity twice is kept once"
        );
    }
}
