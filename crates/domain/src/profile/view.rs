//! Whole profiles as exports show them (`get_core_profiles`, `get_app_profiles`): every set
//! field, with fields that are not set left out, and timestamps in epoch milliseconds.

use super::Names;
use super::app::AppProfileState;
use super::core::CoreProfileState;
use crate::identity::Identity;
use crate::ids::CoreProfileId;
use crate::values::{CustomFields, Decimal, Version};
use serde::Serialize;

fn is_empty_names(names: &Names) -> bool {
    names.is_empty()
}

fn is_empty_custom(fields: &CustomFields) -> bool {
    fields.is_empty()
}

/// A core profile as exported.
#[derive(Debug, Clone, Serialize)]
pub struct CoreProfileView {
    #[serde(rename = "core-profile-id")]
    pub id: CoreProfileId,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
    #[serde(skip_serializing_if = "is_empty_names")]
    pub names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_empty_custom")]
    pub custom_fields: CustomFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_privacy_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_value: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_persona: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_vip_segment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_support_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_t_and_c: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_date: Option<i64>,
    /// EXT: the highest external version applied, once one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The pids of its app profiles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_profiles: Vec<String>,
    /// Epoch milliseconds (rounded down).
    pub created_at: i64,
    pub updated_at: i64,
}

impl CoreProfileView {
    /// The view of a stored profile.
    pub fn new(
        id: CoreProfileId,
        state: CoreProfileState,
        identities: Vec<Identity>,
        app_profiles: Vec<String>,
        created_at: i64,
        updated_at: i64,
    ) -> CoreProfileView {
        CoreProfileView {
            id,
            identities,
            names: state.names,
            tags: state.tags,
            custom_fields: state.custom_fields,
            full_privacy_enabled: state.full_privacy_enabled,
            last_country: state.last_country,
            last_city: state.last_city,
            age: state.age,
            lifetime_value: state.lifetime_value,
            user_persona: state.user_persona,
            user_vip_segment: state.user_vip_segment,
            user_support_status: state.user_support_status,
            accepted_t_and_c: state.accepted_t_and_c,
            preferred_language: state.preferred_language,
            last_active_date: state.last_active_date,
            version: state.version,
            app_profiles,
            created_at,
            updated_at,
        }
    }
}

/// An app profile as exported.
#[derive(Debug, Clone, Serialize)]
pub struct AppProfileView {
    pub pid: String,
    pub app_id: String,
    #[serde(rename = "core-profile-id")]
    pub core_profile_id: CoreProfileId,
    #[serde(skip_serializing_if = "is_empty_custom")]
    pub custom_fields: CustomFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_persona: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_paying_segment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_vip_segment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_level: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_t_and_c: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_support_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_rating: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_value: Option<Decimal>,
    /// EXT: the highest external version applied, once one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AppProfileView {
    /// The view of a stored app profile.
    pub fn new(
        pid: String,
        app_id: String,
        core_profile_id: CoreProfileId,
        state: AppProfileState,
        created_at: i64,
        updated_at: i64,
    ) -> AppProfileView {
        AppProfileView {
            pid,
            app_id,
            core_profile_id,
            custom_fields: state.custom_fields,
            user_persona: state.user_persona,
            user_paying_segment: state.user_paying_segment,
            user_vip_segment: state.user_vip_segment,
            user_level: state.user_level,
            accepted_t_and_c: state.accepted_t_and_c,
            app_status: state.app_status,
            user_support_status: state.user_support_status,
            country: state.country,
            city: state.city,
            language: state.language,
            app_rating: state.app_rating,
            lifetime_value: state.lifetime_value,
            version: state.version,
            created_at,
            updated_at,
        }
    }
}
