//! App profiles: set-based insert (one per core profile and app), locking and loading a chunk's
//! profiles, and an update of only the columns a change touched.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::profile::FieldSet;
use userhub_domain::profile::app::{AppField, AppProfileState};
use userhub_domain::values::{CustomFields, Decimal, Version};

const INSERT: &str = include_str!("../queries/app_profiles/insert.sql");
const UPDATE_CHANGED: &str = include_str!("../queries/app_profiles/update_changed.sql");
const LOCK_AND_LOAD: &str = include_str!("../queries/app_profiles/lock_and_load.sql");
const EXISTING_PIDS: &str = include_str!("../queries/app_profiles/existing_pids.sql");
const OWNERS: &str = include_str!("../queries/app_profiles/owners.sql");

/// A stored app profile.
#[derive(Debug, Clone)]
pub struct StoredAppProfile {
    pub pid: String,
    pub core_profile_id: CoreProfileId,
    pub app_id: String,
    pub state: AppProfileState,
}

/// A new app profile to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewAppProfileRow<'a> {
    pub pid: &'a str,
    pub core_profile_id: CoreProfileId,
    pub app_id: &'a str,
    pub state: &'a AppProfileState,
}

#[derive(Default)]
struct Columns<'a> {
    pids: Vec<&'a str>,
    masks: Vec<i32>,
    custom_fields: Vec<Option<Json<&'a CustomFields>>>,
    persona: Vec<Option<&'a str>>,
    paying: Vec<Option<&'a str>>,
    vip: Vec<Option<&'a str>>,
    level: Vec<Option<i32>>,
    tandc: Vec<Option<bool>>,
    status: Vec<Option<&'a str>>,
    support: Vec<Option<&'a str>>,
    country: Vec<Option<&'a str>>,
    city: Vec<Option<&'a str>>,
    language: Vec<Option<&'a str>>,
    rating: Vec<Option<&'a str>>,
    ltv: Vec<Option<&'a str>>,
    version: Vec<Option<i64>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, pid: &'a str, state: &'a AppProfileState, mask: FieldSet<AppField>) {
        self.pids.push(pid);
        self.masks.push(mask.bits() as i32);
        self.custom_fields
            .push((!state.custom_fields.is_empty()).then_some(Json(&state.custom_fields)));
        self.persona.push(state.user_persona.as_deref());
        self.paying.push(state.user_paying_segment.as_deref());
        self.vip.push(state.user_vip_segment.as_deref());
        self.level.push(state.user_level.map(|level| level as i32));
        self.tandc.push(state.accepted_t_and_c);
        self.status.push(state.app_status.as_deref());
        self.support.push(state.user_support_status.as_deref());
        self.country.push(state.country.as_deref());
        self.city.push(state.city.as_deref());
        self.language.push(state.language.as_deref());
        self.rating
            .push(state.app_rating.as_ref().map(Decimal::as_str));
        self.ltv
            .push(state.lifetime_value.as_ref().map(Decimal::as_str));
        self.version.push(state.version.map(Version::get));
    }
}

pub(crate) fn state_of(row: &Row) -> AppProfileState {
    AppProfileState {
        custom_fields: row
            .get::<_, Option<Json<CustomFields>>>("custom_fields")
            .map(|Json(fields)| fields)
            .unwrap_or_default(),
        user_persona: row.get("user_persona"),
        user_paying_segment: row.get("user_paying_segment"),
        user_vip_segment: row.get("user_vip_segment"),
        user_level: row.get::<_, Option<i32>>("user_level").map(i64::from),
        accepted_t_and_c: row.get("accepted_t_and_c"),
        app_status: row.get("app_status"),
        user_support_status: row.get("user_support_status"),
        country: row.get("country"),
        city: row.get("city"),
        language: row.get("language"),
        app_rating: row
            .get::<_, Option<String>>("app_rating")
            .map(Decimal::from_stored),
        lifetime_value: row
            .get::<_, Option<String>>("lifetime_value")
            .map(Decimal::from_stored),
        version: crate::core_profiles::version_of(row),
    }
}

/// Inserts app profiles whose (core profile, app) pair is free; returns the pids inserted.
pub async fn insert_new(
    client: &impl GenericClient,
    domain_id: DomainId,
    rows: &[NewAppProfileRow<'_>],
) -> Result<Vec<String>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Columns::default();
    for row in rows {
        c.push(row.pid, row.state, FieldSet::default());
    }
    let cores: Vec<CoreProfileId> = rows.iter().map(|row| row.core_profile_id).collect();
    let apps: Vec<&str> = rows.iter().map(|row| row.app_id).collect();
    let statement = client.prepare_cached(INSERT).await?;
    let inserted = client
        .query(
            &statement,
            &[
                &domain_id.as_i64(),
                &c.pids,
                &cores,
                &apps,
                &c.custom_fields,
                &c.persona,
                &c.paying,
                &c.vip,
                &c.level,
                &c.tandc,
                &c.status,
                &c.support,
                &c.country,
                &c.city,
                &c.language,
                &c.rating,
                &c.ltv,
                &c.version,
            ],
        )
        .await?;
    Ok(inserted.iter().map(|row| row.get(0)).collect())
}

/// The pids of existing app profiles for `(core profile, app)` pairs.
pub async fn existing_pids(
    client: &impl GenericClient,
    domain_id: DomainId,
    pairs: &[(CoreProfileId, &str)],
) -> Result<HashMap<(CoreProfileId, String), String>, StoreError> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let cores: Vec<CoreProfileId> = pairs.iter().map(|(core, _)| *core).collect();
    let apps: Vec<&str> = pairs.iter().map(|(_, app)| *app).collect();
    let statement = client.prepare_cached(EXISTING_PIDS).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &cores, &apps])
        .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// Locks the domain's app profiles among `pids` (in pid order) and reads them.
pub async fn lock_and_load(
    client: &impl GenericClient,
    domain_id: DomainId,
    pids: &[&str],
) -> Result<Vec<StoredAppProfile>, StoreError> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client.prepare_cached(LOCK_AND_LOAD).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &pids])
        .await?;
    Ok(rows
        .iter()
        .map(|row| StoredAppProfile {
            pid: row.get("pid"),
            core_profile_id: row.get("core_profile_id"),
            app_id: row.get("app_id"),
            state: state_of(row),
        })
        .collect())
}

/// Writes each app profile's changed columns with one statement and moves their `updated_at`.
pub async fn update_changed(
    client: &impl GenericClient,
    domain_id: DomainId,
    profiles: &[(&str, &AppProfileState, FieldSet<AppField>)],
) -> Result<(), StoreError> {
    let mut c = Columns::default();
    for (pid, state, changed) in profiles {
        if !changed.is_empty() {
            c.push(pid, state, *changed);
        }
    }
    if c.pids.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(UPDATE_CHANGED).await?;
    client
        .execute(
            &statement,
            &[
                &domain_id.as_i64(),
                &c.pids,
                &c.masks,
                &c.custom_fields,
                &c.persona,
                &c.paying,
                &c.vip,
                &c.level,
                &c.tandc,
                &c.status,
                &c.support,
                &c.country,
                &c.city,
                &c.language,
                &c.rating,
                &c.ltv,
                &c.version,
            ],
        )
        .await?;
    Ok(())
}

/// The core profile and app of each of the domain's app profiles among `pids`.
pub async fn owners_of(
    client: &impl GenericClient,
    domain_id: DomainId,
    pids: &[&str],
) -> Result<HashMap<String, (CoreProfileId, String)>, StoreError> {
    if pids.is_empty() {
        return Ok(HashMap::new());
    }
    let statement = client.prepare_cached(OWNERS).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &pids])
        .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}
