//! App profiles (one per core profile and app): the fields a record sets, the validated records
//! of `create_app_profiles` (EXT) and `update_app_profiles`, and the stored state they change.

use super::field_set::{FieldSet, assign, field_enum};
use super::{MapPatch, merge_custom_fields};
use crate::field::Field;
use crate::ids::CoreProfileId;
use crate::record_error::FieldError;
use crate::values::version::{self, Version};
use crate::values::{CustomFields, CustomValue, Decimal};

/// The key of an app profile id in records.
pub const PID_KEY: &str = "pid";
/// The key of the app in `create_app_profiles` records.
pub const APP_ID_KEY: &str = "app_id";
/// Longest `pid` accepted in a record.
pub const MAX_PID_CHARS: usize = 255;
/// Highest `app_rating`.
pub const MAX_APP_RATING: u64 = 5;

field_enum!(
    /// The top-level fields of an app profile.
    AppField {
        CustomFields => "custom_fields",
        UserPersona => "user_persona",
        UserPayingSegment => "user_paying_segment",
        UserVipSegment => "user_vip_segment",
        UserLevel => "user_level",
        AcceptedTAndC => "accepted_t_and_c",
        AppStatus => "app_status",
        UserSupportStatus => "user_support_status",
        Country => "country",
        City => "city",
        Language => "language",
        AppRating => "app_rating",
        LifetimeValue => "lifetime_value",
        Version => "version",
    }
);

/// The fields of an app profile, each possibly absent or cleared.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppProfileFields {
    pub custom_fields: Option<MapPatch<CustomValue>>,
    pub user_persona: Field<String>,
    pub user_paying_segment: Field<String>,
    pub user_vip_segment: Field<String>,
    pub user_level: Field<i64>,
    pub accepted_t_and_c: Field<bool>,
    pub app_status: Field<String>,
    pub user_support_status: Field<String>,
    /// ISO 3166 alpha-2.
    pub country: Field<String>,
    pub city: Field<String>,
    /// ISO 639-1.
    pub language: Field<String>,
    /// 0..=5.
    pub app_rating: Field<Decimal>,
    pub lifetime_value: Field<Decimal>,
    /// EXT: the record's external version (see [`crate::values::version`]).
    pub version: Option<Version>,
}

impl AppProfileFields {
    /// The fields the record names.
    pub fn named(&self) -> FieldSet<AppField> {
        let mut set = FieldSet::default();
        let flags = [
            (self.custom_fields.is_some(), AppField::CustomFields),
            (!self.user_persona.is_absent(), AppField::UserPersona),
            (
                !self.user_paying_segment.is_absent(),
                AppField::UserPayingSegment,
            ),
            (!self.user_vip_segment.is_absent(), AppField::UserVipSegment),
            (!self.user_level.is_absent(), AppField::UserLevel),
            (!self.accepted_t_and_c.is_absent(), AppField::AcceptedTAndC),
            (!self.app_status.is_absent(), AppField::AppStatus),
            (
                !self.user_support_status.is_absent(),
                AppField::UserSupportStatus,
            ),
            (!self.country.is_absent(), AppField::Country),
            (!self.city.is_absent(), AppField::City),
            (!self.language.is_absent(), AppField::Language),
            (!self.app_rating.is_absent(), AppField::AppRating),
            (!self.lifetime_value.is_absent(), AppField::LifetimeValue),
            (self.version.is_some(), AppField::Version),
        ];
        for (present, field) in flags {
            if present {
                set.insert(field);
            }
        }
        set
    }
}

/// A validated `create_app_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAppProfile {
    pub core_profile_id: CoreProfileId,
    pub app_id: String,
    pub fields: AppProfileFields,
}

/// A validated `update_app_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct AppProfilePatch {
    pub pid: String,
    pub fields: AppProfileFields,
}

/// A stored app profile's fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppProfileState {
    pub custom_fields: CustomFields,
    pub user_persona: Option<String>,
    pub user_paying_segment: Option<String>,
    pub user_vip_segment: Option<String>,
    pub user_level: Option<i64>,
    pub accepted_t_and_c: Option<bool>,
    pub app_status: Option<String>,
    pub user_support_status: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub language: Option<String>,
    pub app_rating: Option<Decimal>,
    pub lifetime_value: Option<Decimal>,
    /// EXT: the highest external version applied to the app profile.
    pub version: Option<Version>,
}

impl AppProfileState {
    /// Applies `fields` with the update semantics and returns the fields that really changed;
    /// nothing changes when the record's version is stale.
    pub fn apply(&mut self, fields: &AppProfileFields) -> Result<FieldSet<AppField>, FieldError> {
        version::guard(fields.version, self.version)?;
        let mut changed = FieldSet::default();
        if let Some(patch) = &fields.custom_fields {
            let merged = merge_custom_fields(patch, &self.custom_fields)?;
            if merged != self.custom_fields {
                self.custom_fields = merged;
                changed.insert(AppField::CustomFields);
            }
        }
        let c = &mut changed;
        assign(
            &mut self.user_persona,
            &fields.user_persona,
            AppField::UserPersona,
            c,
        );
        assign(
            &mut self.user_paying_segment,
            &fields.user_paying_segment,
            AppField::UserPayingSegment,
            c,
        );
        assign(
            &mut self.user_vip_segment,
            &fields.user_vip_segment,
            AppField::UserVipSegment,
            c,
        );
        assign(
            &mut self.user_level,
            &fields.user_level,
            AppField::UserLevel,
            c,
        );
        assign(
            &mut self.accepted_t_and_c,
            &fields.accepted_t_and_c,
            AppField::AcceptedTAndC,
            c,
        );
        assign(
            &mut self.app_status,
            &fields.app_status,
            AppField::AppStatus,
            c,
        );
        assign(
            &mut self.user_support_status,
            &fields.user_support_status,
            AppField::UserSupportStatus,
            c,
        );
        assign(&mut self.country, &fields.country, AppField::Country, c);
        assign(&mut self.city, &fields.city, AppField::City, c);
        assign(&mut self.language, &fields.language, AppField::Language, c);
        assign(
            &mut self.app_rating,
            &fields.app_rating,
            AppField::AppRating,
            c,
        );
        assign(
            &mut self.lifetime_value,
            &fields.lifetime_value,
            AppField::LifetimeValue,
            c,
        );
        if version::advance(&mut self.version, fields.version) {
            changed.insert(AppField::Version);
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_to_the_same_value_changes_nothing() {
        let mut state = AppProfileState {
            lifetime_value: Decimal::parse("10.50").ok(),
            ..AppProfileState::default()
        };
        let same = AppProfileFields {
            lifetime_value: Field::Set(Decimal::parse("10.50").unwrap()),
            ..AppProfileFields::default()
        };
        assert!(state.apply(&same).unwrap().is_empty());
        let level = AppProfileFields {
            user_level: Field::Set(3),
            ..AppProfileFields::default()
        };
        assert_eq!(state.apply(&level).unwrap().names(), vec!["user_level"]);
    }

    #[test]
    fn a_stale_version_changes_nothing_and_a_newer_one_is_kept() {
        let versioned = |version: i64, level: i64| AppProfileFields {
            user_level: Field::Set(level),
            version: Version::new(version),
            ..AppProfileFields::default()
        };
        let mut state = AppProfileState::default();
        let changed = state.apply(&versioned(5, 1)).unwrap();
        assert_eq!(changed.names(), vec!["user_level", "version"]);
        let before = state.clone();
        let error = state.apply(&versioned(5, 2)).unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::StaleVersion);
        assert_eq!(state, before, "a stale record changes nothing");
        let unversioned = AppProfileFields {
            user_level: Field::Set(9),
            ..AppProfileFields::default()
        };
        assert_eq!(
            state.apply(&unversioned).unwrap().names(),
            vec!["user_level"]
        );
        assert_eq!(
            state.version,
            Version::new(5),
            "a record without one keeps it"
        );
    }
}
