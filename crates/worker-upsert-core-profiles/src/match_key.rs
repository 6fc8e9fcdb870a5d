//! An upsert record's match key — the value of its identity, `core-profile-id` or custom field
//! named by `match_by` — and finding the profiles those keys belong to.

use serde_json::Value;
use std::collections::HashMap;
use userhub_domain::object_parser::integer_of;
use userhub_domain::{ErrorCode, FieldError, IdentityKind, MatchBy};
use userhub_store::core_profiles::{ids_by_custom_field, lock_profiles};
use userhub_store::identities::owners;
use userhub_store::{StoreError, Transaction};

/// What a match key finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Profile(i64),
    /// Several profiles hold the key (custom fields are not unique).
    Several(Vec<i64>),
    Nothing,
}

fn missing(field: String, message: String) -> FieldError {
    FieldError::new(field, ErrorCode::MissingRequiredField, message)
}

fn identity_key(kind: IdentityKind, record: &Value) -> Result<String, FieldError> {
    let found = record
        .get("identities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|item| item.get(kind.as_str()));
    match found {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(kind.normalize(text.trim())),
        _ => Err(missing(
            "identities".to_owned(),
            format!(
                "records are matched by their `{}` identity, and this one has none",
                kind.as_str()
            ),
        )),
    }
}

fn custom_field_key(name: &str, record: &Value) -> Result<String, FieldError> {
    let field = format!("custom_fields.{name}");
    match record
        .get("custom_fields")
        .and_then(|fields| fields.get(name))
    {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(value.to_string()),
        _ => Err(missing(
            field,
            format!("records are matched by the custom field `{name}`, and this one has none"),
        )),
    }
}

/// The record's match key, in the text form keys are compared in.
pub fn key_of(match_by: &MatchBy, record: &Value) -> Result<String, FieldError> {
    if !matches!(match_by, MatchBy::CoreProfileId) && record.get("core-profile-id").is_some() {
        return Err(FieldError::new(
            "core-profile-id",
            ErrorCode::UnsupportedKey,
            format!("`core-profile-id` cannot be given when matching by {match_by}"),
        ));
    }
    match match_by {
        MatchBy::Identity(kind) => identity_key(*kind, record),
        MatchBy::CoreProfileId => record
            .get("core-profile-id")
            .and_then(integer_of)
            .filter(|id| *id > 0)
            .map(|id| id.to_string())
            .ok_or_else(|| {
                missing(
                    "core-profile-id".to_owned(),
                    "records are matched by `core-profile-id`, a positive integer".to_owned(),
                )
            }),
        MatchBy::CustomField(name) => custom_field_key(name, record),
    }
}

/// Finds the profiles of `keys` in the transaction's view.
pub async fn resolve(
    transaction: &Transaction<'_>,
    domain_id: i64,
    match_by: &MatchBy,
    keys: &[&str],
) -> Result<HashMap<String, Found>, StoreError> {
    let mut found: HashMap<String, Found> = keys
        .iter()
        .map(|key| ((*key).to_owned(), Found::Nothing))
        .collect();
    match match_by {
        MatchBy::Identity(kind) => {
            let pairs: Vec<(&str, &str)> = keys.iter().map(|key| (kind.as_str(), *key)).collect();
            for ((_, key), owner) in owners(transaction, domain_id, &pairs).await? {
                found.insert(key, Found::Profile(owner));
            }
        }
        MatchBy::CoreProfileId => {
            let ids: Vec<i64> = keys.iter().filter_map(|key| key.parse().ok()).collect();
            for profile in lock_profiles(transaction, domain_id, &ids).await? {
                found.insert(profile.id.to_string(), Found::Profile(profile.id));
            }
        }
        MatchBy::CustomField(name) => {
            let values: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
            for (value, id) in ids_by_custom_field(transaction, domain_id, name, &values).await? {
                let entry = found.entry(value).or_insert(Found::Nothing);
                *entry = match std::mem::replace(entry, Found::Nothing) {
                    Found::Nothing => Found::Profile(id),
                    Found::Profile(first) => Found::Several(vec![first, id]),
                    Found::Several(mut ids) => {
                        ids.push(id);
                        Found::Several(ids)
                    }
                };
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_come_from_the_matched_field_in_normalised_form() {
        let email = MatchBy::Identity(IdentityKind::Email);
        let record = json!({"identities": [{"uid": "u1"}, {"email": " Ann@Example.COM "}]});
        assert_eq!(key_of(&email, &record).unwrap(), "ann@example.com");
        let uid = MatchBy::Identity(IdentityKind::Uid);
        assert_eq!(key_of(&uid, &record).unwrap(), "u1");
        let phone = MatchBy::Identity(IdentityKind::PhoneNumber);
        assert_eq!(
            key_of(&phone, &record).unwrap_err().code,
            ErrorCode::MissingRequiredField
        );
    }

    #[test]
    fn custom_field_keys_compare_as_text() {
        let by_crm = MatchBy::CustomField("CRM_ID".to_owned());
        let number = json!({"custom_fields": {"CRM_ID": 77}});
        let text = json!({"custom_fields": {"CRM_ID": "77"}});
        assert_eq!(key_of(&by_crm, &number).unwrap(), "77");
        assert_eq!(key_of(&by_crm, &text).unwrap(), "77");
        assert!(key_of(&by_crm, &json!({"custom_fields": {"CRM_ID": null}})).is_err());
        let with_id = json!({"core-profile-id": 5, "custom_fields": {"CRM_ID": 1}});
        assert_eq!(
            key_of(&by_crm, &with_id).unwrap_err().code,
            ErrorCode::UnsupportedKey
        );
    }

    #[test]
    fn ids_must_be_positive_integers() {
        let by_id = MatchBy::CoreProfileId;
        assert_eq!(
            key_of(&by_id, &json!({"core-profile-id": "42"})).unwrap(),
            "42"
        );
        assert!(key_of(&by_id, &json!({"core-profile-id": -1})).is_err());
        assert!(key_of(&by_id, &json!({})).is_err());
    }
}
