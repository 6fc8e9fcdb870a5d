//! Core profiles: the fields a record sets, the validated records of each task type, and the
//! stored state those records change, with the set of fields a change really touched.

use super::field_set::{FieldSet, assign, field_enum};
use super::{MapPatch, Names, merge_custom_fields, patch_names};
use crate::field::Field;
use crate::identity::Identity;
use crate::ids::CoreProfileId;
use crate::options::MatchBy;
use crate::record_error::{ErrorCode, FieldError};
use crate::values::version::{self, Version};
use crate::values::{CustomFields, CustomValue, Decimal};

/// The key of the profile id in records (note the hyphens).
pub const CORE_PROFILE_ID_KEY: &str = "core-profile-id";

field_enum!(
    /// The top-level fields of a core profile (what results and events list as changed).
    CoreField {
        Identities => "identities",
        Names => "names",
        Tags => "tags",
        CustomFields => "custom_fields",
        FullPrivacyEnabled => "full_privacy_enabled",
        LastCountry => "last_country",
        LastCity => "last_city",
        Age => "age",
        LifetimeValue => "lifetime_value",
        UserPersona => "user_persona",
        UserVipSegment => "user_vip_segment",
        UserSupportStatus => "user_support_status",
        AcceptedTAndC => "accepted_t_and_c",
        PreferredLanguage => "preferred_language",
        LastActiveDate => "last_active_date",
        Version => "version",
    }
);

/// The fields of a core profile besides its identities, each possibly absent or cleared.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoreProfileFields {
    pub names: Option<MapPatch<String>>,
    pub tags: Field<Vec<String>>,
    pub custom_fields: Option<MapPatch<CustomValue>>,
    pub full_privacy_enabled: Field<bool>,
    /// ISO 3166 alpha-2.
    pub last_country: Field<String>,
    pub last_city: Field<String>,
    pub age: Field<i64>,
    pub lifetime_value: Field<Decimal>,
    pub user_persona: Field<String>,
    pub user_vip_segment: Field<String>,
    pub user_support_status: Field<String>,
    pub accepted_t_and_c: Field<bool>,
    /// ISO 639-1, lower case.
    pub preferred_language: Field<String>,
    /// Epoch milliseconds.
    pub last_active_date: Field<i64>,
    /// EXT: the record's external version (see [`crate::values::version`]).
    pub version: Option<Version>,
}

impl CoreProfileFields {
    /// The fields the record names (present, with a value or `null`).
    pub fn named(&self) -> FieldSet<CoreField> {
        let mut set = FieldSet::default();
        let mut mark = |present: bool, field: CoreField| {
            if present {
                set.insert(field);
            }
        };
        mark(self.names.is_some(), CoreField::Names);
        mark(!self.tags.is_absent(), CoreField::Tags);
        mark(self.custom_fields.is_some(), CoreField::CustomFields);
        mark(
            !self.full_privacy_enabled.is_absent(),
            CoreField::FullPrivacyEnabled,
        );
        mark(!self.last_country.is_absent(), CoreField::LastCountry);
        mark(!self.last_city.is_absent(), CoreField::LastCity);
        mark(!self.age.is_absent(), CoreField::Age);
        mark(!self.lifetime_value.is_absent(), CoreField::LifetimeValue);
        mark(!self.user_persona.is_absent(), CoreField::UserPersona);
        mark(
            !self.user_vip_segment.is_absent(),
            CoreField::UserVipSegment,
        );
        mark(
            !self.user_support_status.is_absent(),
            CoreField::UserSupportStatus,
        );
        mark(!self.accepted_t_and_c.is_absent(), CoreField::AcceptedTAndC);
        mark(
            !self.preferred_language.is_absent(),
            CoreField::PreferredLanguage,
        );
        mark(
            !self.last_active_date.is_absent(),
            CoreField::LastActiveDate,
        );
        mark(self.version.is_some(), CoreField::Version);
        set
    }
}

/// A validated `create_core_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCoreProfile {
    pub identities: Vec<Identity>,
    pub fields: CoreProfileFields,
}

/// A validated `update_core_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreProfilePatch {
    pub id: CoreProfileId,
    /// Identities to add to the profile.
    pub identities: Vec<Identity>,
    pub fields: CoreProfileFields,
}

/// A validated `upsert_core_profiles` record: what it matches by is decided by the task's
/// `match_by`; a record that creates needs identities.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreProfileUpsert {
    /// Given only when matching by `core-profile-id`.
    pub id: Option<CoreProfileId>,
    pub identities: Vec<Identity>,
    pub fields: CoreProfileFields,
}

impl CoreProfileUpsert {
    /// The record's match key for `match_by`, in the form keys compare in: the normalised value
    /// of its first identity of the kind, its id, or its custom field's match key.
    pub fn match_key(&self, match_by: &MatchBy) -> Result<String, FieldError> {
        let missing = |field: String, message: String| {
            FieldError::new(field, ErrorCode::MissingRequiredField, message)
        };
        match match_by {
            MatchBy::Identity(kind) => self
                .identities
                .iter()
                .find(|identity| identity.kind() == *kind)
                .map(|identity| identity.normalized().to_owned())
                .ok_or_else(|| {
                    missing(
                        "identities".to_owned(),
                        format!(
                            "records are matched by their `{}` identity, and this one has none",
                            kind.as_str()
                        ),
                    )
                }),
            MatchBy::CoreProfileId => self.id.map(|id| id.get().to_string()).ok_or_else(|| {
                missing(
                    CORE_PROFILE_ID_KEY.to_owned(),
                    format!("records are matched by `{CORE_PROFILE_ID_KEY}`, a positive integer"),
                )
            }),
            MatchBy::CustomField(name) => self
                .fields
                .custom_fields
                .as_ref()
                .and_then(|patch| patch.entries.iter().find(|(key, _)| key == name))
                .and_then(|(_, value)| value.as_ref())
                .and_then(CustomValue::match_key)
                .ok_or_else(|| {
                    missing(
                        format!("custom_fields.{name}"),
                        format!(
                            "records are matched by the custom field `{name}`, and this one has \
                             none (or a blank or structured value)"
                        ),
                    )
                }),
        }
    }
}

/// A stored core profile's fields (identities are kept apart: they are unique per domain).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoreProfileState {
    pub names: Names,
    pub tags: Option<Vec<String>>,
    pub custom_fields: CustomFields,
    pub full_privacy_enabled: Option<bool>,
    pub last_country: Option<String>,
    pub last_city: Option<String>,
    pub age: Option<i64>,
    pub lifetime_value: Option<Decimal>,
    pub user_persona: Option<String>,
    pub user_vip_segment: Option<String>,
    pub user_support_status: Option<String>,
    pub accepted_t_and_c: Option<bool>,
    pub preferred_language: Option<String>,
    pub last_active_date: Option<i64>,
    /// EXT: the highest external version applied to the profile.
    pub version: Option<Version>,
}

impl CoreProfileState {
    /// The fields whose value differs between `self` and `other` (identities aside).
    pub fn differences(&self, other: &CoreProfileState) -> FieldSet<CoreField> {
        let mut set = FieldSet::default();
        let mut mark = |differs: bool, field: CoreField| {
            if differs {
                set.insert(field);
            }
        };
        mark(self.names != other.names, CoreField::Names);
        mark(self.tags != other.tags, CoreField::Tags);
        mark(
            self.custom_fields != other.custom_fields,
            CoreField::CustomFields,
        );
        mark(
            self.full_privacy_enabled != other.full_privacy_enabled,
            CoreField::FullPrivacyEnabled,
        );
        mark(
            self.last_country != other.last_country,
            CoreField::LastCountry,
        );
        mark(self.last_city != other.last_city, CoreField::LastCity);
        mark(self.age != other.age, CoreField::Age);
        mark(
            self.lifetime_value != other.lifetime_value,
            CoreField::LifetimeValue,
        );
        mark(
            self.user_persona != other.user_persona,
            CoreField::UserPersona,
        );
        mark(
            self.user_vip_segment != other.user_vip_segment,
            CoreField::UserVipSegment,
        );
        mark(
            self.user_support_status != other.user_support_status,
            CoreField::UserSupportStatus,
        );
        mark(
            self.accepted_t_and_c != other.accepted_t_and_c,
            CoreField::AcceptedTAndC,
        );
        mark(
            self.preferred_language != other.preferred_language,
            CoreField::PreferredLanguage,
        );
        mark(
            self.last_active_date != other.last_active_date,
            CoreField::LastActiveDate,
        );
        mark(self.version != other.version, CoreField::Version);
        set
    }

    /// Applies `fields` as an update does (present replaces, `null` clears, maps merge per key)
    /// and returns the fields whose value really changed; nothing changes when the record's
    /// version is stale or the merged custom fields would exceed their limit.
    pub fn apply(&mut self, fields: &CoreProfileFields) -> Result<FieldSet<CoreField>, FieldError> {
        version::guard(fields.version, self.version)?;
        let custom_fields = fields
            .custom_fields
            .as_ref()
            .map(|patch| merge_custom_fields(patch, &self.custom_fields))
            .transpose()?;
        let mut changed = FieldSet::default();
        if let Some(merged) = custom_fields {
            if merged != self.custom_fields {
                self.custom_fields = merged;
                changed.insert(CoreField::CustomFields);
            }
        }
        if let Some(patch) = &fields.names {
            let merged = patch_names(patch, &self.names);
            if merged != self.names {
                self.names = merged;
                changed.insert(CoreField::Names);
            }
        }
        let c = &mut changed;
        assign(&mut self.tags, &fields.tags, CoreField::Tags, c);
        assign(
            &mut self.full_privacy_enabled,
            &fields.full_privacy_enabled,
            CoreField::FullPrivacyEnabled,
            c,
        );
        assign(
            &mut self.last_country,
            &fields.last_country,
            CoreField::LastCountry,
            c,
        );
        assign(
            &mut self.last_city,
            &fields.last_city,
            CoreField::LastCity,
            c,
        );
        assign(&mut self.age, &fields.age, CoreField::Age, c);
        assign(
            &mut self.lifetime_value,
            &fields.lifetime_value,
            CoreField::LifetimeValue,
            c,
        );
        assign(
            &mut self.user_persona,
            &fields.user_persona,
            CoreField::UserPersona,
            c,
        );
        assign(
            &mut self.user_vip_segment,
            &fields.user_vip_segment,
            CoreField::UserVipSegment,
            c,
        );
        assign(
            &mut self.user_support_status,
            &fields.user_support_status,
            CoreField::UserSupportStatus,
            c,
        );
        assign(
            &mut self.accepted_t_and_c,
            &fields.accepted_t_and_c,
            CoreField::AcceptedTAndC,
            c,
        );
        assign(
            &mut self.preferred_language,
            &fields.preferred_language,
            CoreField::PreferredLanguage,
            c,
        );
        assign(
            &mut self.last_active_date,
            &fields.last_active_date,
            CoreField::LastActiveDate,
            c,
        );
        if version::advance(&mut self.version, fields.version) {
            changed.insert(CoreField::Version);
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_field_to_its_value_changes_nothing() {
        let mut state = CoreProfileState {
            age: Some(30),
            ..CoreProfileState::default()
        };
        let same = CoreProfileFields {
            age: Field::Set(30),
            ..CoreProfileFields::default()
        };
        assert!(state.apply(&same).unwrap().is_empty());
        let other = CoreProfileFields {
            age: Field::Set(31),
            last_city: Field::Clear,
            ..CoreProfileFields::default()
        };
        assert_eq!(state.apply(&other).unwrap().names(), vec!["age"]);
        assert_eq!(state.age, Some(31));
    }

    #[test]
    fn merged_custom_fields_stay_within_their_limit() {
        let mut state = CoreProfileState::default();
        let many = |from: usize| CoreProfileFields {
            custom_fields: Some(MapPatch {
                replace: false,
                entries: (from..from + 20)
                    .map(|i| (format!("k{i}"), Some(CustomValue::Bool(true))))
                    .collect(),
            }),
            ..CoreProfileFields::default()
        };
        assert_eq!(
            state.apply(&many(0)).unwrap().names(),
            vec!["custom_fields"]
        );
        let error = state.apply(&many(20)).unwrap_err();
        assert_eq!(error.code, ErrorCode::ExceededCountLimit);
        assert_eq!(
            state.custom_fields.len(),
            20,
            "a refused record changes nothing"
        );
    }
}
