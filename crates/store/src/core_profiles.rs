//! Core profiles: id allocation, locking and loading a chunk's profiles, and set-based insert
//! and update of their fields (only the columns a change touched).

use crate::error::StoreError;
use crate::numeric::NumericText;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Json;
use tokio_postgres::types::Type;
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::profile::core::{CoreField, CoreProfileState};
use userhub_domain::profile::{FieldSet, Names};
use userhub_domain::values::{CustomFields, Decimal, Version};

const COPY_IN: &str = include_str!("../queries/core_profiles/copy_in.sql");
const UPDATE_CHANGED: &str = include_str!("../queries/core_profiles/update_changed.sql");
const LOCK_AND_LOAD: &str = include_str!("../queries/core_profiles/lock_and_load.sql");
const BY_CUSTOM_FIELD: &str = include_str!("../queries/core_profiles/by_custom_field.sql");

/// The column types of `copy_in.sql`, in its order.
const COPY_TYPES: [Type; 17] = [
    Type::INT8,
    Type::INT8,
    Type::JSONB,
    Type::JSONB,
    Type::JSON,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::NUMERIC,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
];

/// A stored core profile's id and fields.
#[derive(Debug, Clone)]
pub struct StoredCoreProfile {
    pub id: CoreProfileId,
    pub state: CoreProfileState,
}

/// Column arrays for `unnest`, one entry per profile.
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<CoreProfileId>,
    masks: Vec<i32>,
    names: Vec<Option<Json<&'a Names>>>,
    tags: Vec<Option<Json<&'a Vec<String>>>>,
    custom_fields: Vec<Option<Json<&'a CustomFields>>>,
    full_privacy_enabled: Vec<Option<bool>>,
    last_country: Vec<Option<&'a str>>,
    last_city: Vec<Option<&'a str>>,
    age: Vec<Option<i16>>,
    lifetime_value: Vec<Option<&'a str>>,
    user_persona: Vec<Option<&'a str>>,
    user_vip_segment: Vec<Option<&'a str>>,
    user_support_status: Vec<Option<&'a str>>,
    accepted_t_and_c: Vec<Option<bool>>,
    preferred_language: Vec<Option<&'a str>>,
    last_active_date: Vec<Option<i64>>,
    version: Vec<Option<i64>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, id: CoreProfileId, state: &'a CoreProfileState, mask: FieldSet<CoreField>) {
        self.ids.push(id);
        self.masks.push(mask.bits() as i32);
        self.names
            .push((!state.names.is_empty()).then_some(Json(&state.names)));
        self.tags.push(state.tags.as_ref().map(Json));
        self.custom_fields
            .push((!state.custom_fields.is_empty()).then_some(Json(&state.custom_fields)));
        self.full_privacy_enabled.push(state.full_privacy_enabled);
        self.last_country.push(state.last_country.as_deref());
        self.last_city.push(state.last_city.as_deref());
        self.age.push(state.age.map(|age| age as i16));
        self.lifetime_value
            .push(state.lifetime_value.as_ref().map(Decimal::as_str));
        self.user_persona.push(state.user_persona.as_deref());
        self.user_vip_segment
            .push(state.user_vip_segment.as_deref());
        self.user_support_status
            .push(state.user_support_status.as_deref());
        self.accepted_t_and_c.push(state.accepted_t_and_c);
        self.preferred_language
            .push(state.preferred_language.as_deref());
        self.last_active_date.push(state.last_active_date);
        self.version.push(state.version.map(Version::get));
    }
}

/// Reads a profile's fields from a row of `lock_and_load.sql`.
pub(crate) fn state_of(row: &Row) -> CoreProfileState {
    CoreProfileState {
        names: row
            .get::<_, Option<Json<Names>>>("names")
            .map(|Json(names)| names)
            .unwrap_or_default(),
        tags: row
            .get::<_, Option<Json<Vec<String>>>>("tags")
            .map(|Json(tags)| tags),
        custom_fields: row
            .get::<_, Option<Json<CustomFields>>>("custom_fields")
            .map(|Json(fields)| fields)
            .unwrap_or_default(),
        full_privacy_enabled: row.get("full_privacy_enabled"),
        last_country: row.get("last_country"),
        last_city: row.get("last_city"),
        age: row.get::<_, Option<i16>>("age").map(i64::from),
        lifetime_value: row
            .get::<_, Option<String>>("lifetime_value")
            .map(Decimal::from_stored),
        user_persona: row.get("user_persona"),
        user_vip_segment: row.get("user_vip_segment"),
        user_support_status: row.get("user_support_status"),
        accepted_t_and_c: row.get("accepted_t_and_c"),
        preferred_language: row.get("preferred_language"),
        last_active_date: row.get("last_active_date"),
        version: version_of(row),
    }
}

/// Reads a profile's `version` column (a stored value is never negative).
pub(crate) fn version_of(row: &Row) -> Option<Version> {
    row.get::<_, Option<i64>>("version").and_then(Version::new)
}

/// Where new profile ids come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSequence {
    /// Real profiles.
    Profiles,
    /// Profiles a dry run creates and rolls back: negative ids from their own sequence.
    DryRun,
}

impl IdSequence {
    /// The sequence of a task run for real or as a dry run.
    pub fn of(dry_run: bool) -> IdSequence {
        if dry_run {
            IdSequence::DryRun
        } else {
            IdSequence::Profiles
        }
    }
}

/// Reserves `count` new profile ids.
pub async fn allocate_ids(
    client: &impl GenericClient,
    count: usize,
    sequence: IdSequence,
) -> Result<Vec<CoreProfileId>, StoreError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let query = match sequence {
        IdSequence::Profiles => include_str!("../queries/core_profiles/allocate_ids.sql"),
        IdSequence::DryRun => include_str!("../queries/core_profiles/allocate_dry_run_ids.sql"),
    };
    let statement = client.prepare_cached(query).await?;
    let rows = client.query(&statement, &[&(count as i32)]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Locks the domain's profiles among `ids` in id order and reads their fields. Unknown ids and
/// other domains' ids are simply missing.
pub async fn lock_and_load(
    client: &impl GenericClient,
    domain_id: DomainId,
    ids: &[CoreProfileId],
) -> Result<Vec<StoredCoreProfile>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client.prepare_cached(LOCK_AND_LOAD).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &ids])
        .await?;
    Ok(rows
        .iter()
        .map(|row| StoredCoreProfile {
            id: row.get("id"),
            state: state_of(row),
        })
        .collect())
}

/// Inserts new profiles with one binary `COPY` (PostgreSQL writes them as a multi-row insert).
pub async fn insert_profiles(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    profiles: &[(CoreProfileId, &CoreProfileState)],
) -> Result<(), StoreError> {
    if profiles.is_empty() {
        return Ok(());
    }
    let statement = transaction.prepare_cached(COPY_IN).await?;
    let sink = transaction.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    let domain_id = domain_id.as_i64();
    for (id, state) in profiles {
        let names = (!state.names.is_empty()).then_some(Json(&state.names));
        let tags = state.tags.as_ref().map(Json);
        let custom_fields = (!state.custom_fields.is_empty()).then_some(Json(&state.custom_fields));
        let lifetime_value = state
            .lifetime_value
            .as_ref()
            .map(|value| NumericText(value.as_str()));
        let age = state.age.map(|age| age as i16);
        let version = state.version.map(Version::get);
        writer
            .as_mut()
            .write(&[
                id,
                &domain_id,
                &names,
                &tags,
                &custom_fields,
                &state.full_privacy_enabled,
                &state.last_country,
                &state.last_city,
                &age,
                &lifetime_value,
                &state.user_persona,
                &state.user_vip_segment,
                &state.user_support_status,
                &state.accepted_t_and_c,
                &state.preferred_language,
                &state.last_active_date,
                &version,
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Writes each profile's changed columns (and only those) with one statement and moves their
/// `updated_at`; profiles whose change set is empty are not touched.
pub async fn update_changed(
    client: &impl GenericClient,
    domain_id: DomainId,
    profiles: &[(CoreProfileId, &CoreProfileState, FieldSet<CoreField>)],
) -> Result<(), StoreError> {
    let mut c = Columns::default();
    for (id, state, changed) in profiles {
        if !changed.is_empty() {
            c.push(*id, state, *changed);
        }
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(UPDATE_CHANGED).await?;
    client
        .execute(
            &statement,
            &[
                &domain_id.as_i64(),
                &c.ids,
                &c.masks,
                &c.names,
                &c.tags,
                &c.custom_fields,
                &c.full_privacy_enabled,
                &c.last_country,
                &c.last_city,
                &c.age,
                &c.lifetime_value,
                &c.user_persona,
                &c.user_vip_segment,
                &c.user_support_status,
                &c.accepted_t_and_c,
                &c.preferred_language,
                &c.last_active_date,
                &c.version,
            ],
        )
        .await?;
    Ok(())
}

/// Which of `ids` are core profiles of the domain, locked for sharing until the transaction
/// ends (app profile writers hold their owners; see the query).
pub async fn share_lock_ids(
    client: &impl GenericClient,
    domain_id: DomainId,
    ids: &[CoreProfileId],
) -> Result<Vec<CoreProfileId>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/core_profiles/share_lock.sql"))
        .await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &ids])
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Which of `ids` are core profiles of the domain.
pub async fn existing_ids(
    client: &impl GenericClient,
    domain_id: DomainId,
    ids: &[CoreProfileId],
) -> Result<Vec<CoreProfileId>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/core_profiles/existing_ids.sql"))
        .await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &ids])
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Profiles holding a custom field's match key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFieldHolders {
    pub key: String,
    /// The lowest ids among them (at most the limit asked for).
    pub ids: Vec<CoreProfileId>,
    /// How many profiles hold the key in all.
    pub total: i64,
}

/// The profiles whose custom field `name` holds one of `keys` (see `by_custom_field.sql` for
/// how values compare), at most `per_key` ids per key. It reads every profile of the domain
/// that has custom fields; identity matching is the indexed way.
pub async fn ids_by_custom_field(
    client: &impl GenericClient,
    domain_id: DomainId,
    name: &str,
    keys: &[String],
    per_key: i64,
) -> Result<Vec<CustomFieldHolders>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client.prepare_cached(BY_CUSTOM_FIELD).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &name, &keys, &per_key])
        .await?;
    let mut holders: Vec<CustomFieldHolders> = Vec::new();
    for row in rows {
        let key: String = row.get(0);
        let id: CoreProfileId = row.get(1);
        let total: i64 = row.get(2);
        match holders.last_mut() {
            Some(last) if last.key == key => last.ids.push(id),
            _ => holders.push(CustomFieldHolders {
                key,
                ids: vec![id],
                total,
            }),
        }
    }
    Ok(holders)
}

/// Serialises upserts matching by one custom field in one domain until the transaction ends:
/// nothing unique guards a custom field, so two chunks must not both create the same profile.
pub async fn lock_custom_field_matching(
    client: &impl GenericClient,
    domain_id: DomainId,
    name: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            include_str!("../queries/core_profiles/lock_custom_field_matching.sql"),
            &[&domain_id.to_string(), &name],
        )
        .await?;
    Ok(())
}
