//! Exports: the JSON of whole profiles for a chunk of ids, and cursors over the profiles an
//! export selector picks, so that a million-profile export streams in bounded memory.

use crate::error::StoreError;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Portal;
use tokio_postgres::types::ToSql;
use userhub_domain::profile::selector::ExportSelector;

/// What an export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    CoreProfiles,
    AppProfiles,
}

/// A selected profile: a core profile id or an app profile pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKey {
    Core(i64),
    App(String),
}

/// The JSON object (as text) of each of the domain's core profiles among `ids`. Identities and
/// app profiles are found by profile id alone: ids are unique across domains, and filtering
/// them by domain too would make PostgreSQL scan the whole domain for every profile.
pub async fn core_profiles_json(
    client: &impl GenericClient,
    domain_id: i64,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT p.id, json_strip_nulls(json_build_object(
                 'core-profile-id', p.id,
                 'identities', (SELECT json_agg(coalesce(i.metadata, '{}'::jsonb) || jsonb_build_object(i.kind, i.value)
                                                ORDER BY i.kind, i.normalized)
                                  FROM identities i
                                 WHERE i.core_profile_id = p.id),
                 'names', p.names,
                 'tags', p.tags,
                 'custom_fields', p.custom_fields,
                 'full_privacy_enabled', p.full_privacy_enabled,
                 'last_country', p.last_country,
                 'last_city', p.last_city,
                 'age', p.age,
                 'lifetime_value', p.lifetime_value,
                 'user_persona', p.user_persona,
                 'user_vip_segment', p.user_vip_segment,
                 'user_support_status', p.user_support_status,
                 'accepted_t_and_c', p.accepted_t_and_c,
                 'preferred_language', p.preferred_language,
                 'last_active_date', p.last_active_date,
                 'app_profiles', (SELECT json_agg(a.pid ORDER BY a.app_id, a.pid) FROM app_profiles a
                                   WHERE a.core_profile_id = p.id),
                 'created_at', (extract(epoch FROM p.created_at) * 1000)::bigint,
                 'updated_at', (extract(epoch FROM p.updated_at) * 1000)::bigint
             ))::text
               FROM core_profiles p
              WHERE p.domain_id = $1 AND p.id = ANY($2)",
        )
        .await?;
    let rows = client.query(&statement, &[&domain_id, &ids]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The JSON object (as text) of each of the domain's app profiles among `pids`.
pub async fn app_profiles_json(
    client: &impl GenericClient,
    domain_id: i64,
    pids: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT a.pid, json_strip_nulls(json_build_object(
                 'pid', a.pid,
                 'app_id', a.app_id,
                 'core-profile-id', a.core_profile_id,
                 'custom_fields', a.custom_fields,
                 'user_persona', a.user_persona,
                 'user_paying_segment', a.user_paying_segment,
                 'user_vip_segment', a.user_vip_segment,
                 'user_level', a.user_level,
                 'accepted_t_and_c', a.accepted_t_and_c,
                 'app_status', a.app_status,
                 'user_support_status', a.user_support_status,
                 'country', a.country,
                 'city', a.city,
                 'language', a.language,
                 'app_rating', a.app_rating,
                 'lifetime_value', a.lifetime_value,
                 'created_at', (extract(epoch FROM a.created_at) * 1000)::bigint,
                 'updated_at', (extract(epoch FROM a.updated_at) * 1000)::bigint
             ))::text
               FROM app_profiles a
              WHERE a.domain_id = $1 AND a.pid = ANY($2)",
        )
        .await?;
    let rows = client.query(&statement, &[&domain_id, &pids]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The query selecting keys (in key order) and its parameters besides the domain (`$1`).
fn selection_sql(
    kind: ExportKind,
    selector: &ExportSelector,
) -> (&'static str, Vec<Box<dyn ToSql + Sync + Send>>) {
    match (kind, selector) {
        (ExportKind::CoreProfiles, ExportSelector::All) => {
            ("SELECT id FROM core_profiles WHERE domain_id = $1 ORDER BY id", vec![])
        }
        (ExportKind::CoreProfiles, ExportSelector::UpdatedSince(ms)) => (
            "SELECT id FROM core_profiles
              WHERE domain_id = $1 AND updated_at >= to_timestamp($2::int8 / 1000.0) ORDER BY id",
            vec![Box::new(*ms)],
        ),
        (ExportKind::CoreProfiles, ExportSelector::Identity { kind, normalized }) => (
            "SELECT core_profile_id FROM identities
              WHERE domain_id = $1 AND kind = $2 AND normalized = $3 ORDER BY core_profile_id",
            vec![Box::new(kind.as_str().to_owned()), Box::new(normalized.clone())],
        ),
        (ExportKind::AppProfiles, ExportSelector::All) => {
            ("SELECT pid FROM app_profiles WHERE domain_id = $1 ORDER BY pid", vec![])
        }
        (ExportKind::AppProfiles, ExportSelector::UpdatedSince(ms)) => (
            "SELECT pid FROM app_profiles
              WHERE domain_id = $1 AND updated_at >= to_timestamp($2::int8 / 1000.0) ORDER BY pid",
            vec![Box::new(*ms)],
        ),
        (ExportKind::AppProfiles, ExportSelector::Identity { kind, normalized }) => (
            "SELECT a.pid FROM app_profiles a
               JOIN identities i ON i.domain_id = a.domain_id AND i.core_profile_id = a.core_profile_id
              WHERE a.domain_id = $1 AND i.kind = $2 AND i.normalized = $3 ORDER BY a.pid",
            vec![Box::new(kind.as_str().to_owned()), Box::new(normalized.clone())],
        ),
    }
}

fn parameters<'a>(
    domain_id: &'a i64,
    rest: &'a [Box<dyn ToSql + Sync + Send>],
) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![domain_id];
    all.extend(
        rest.iter()
            .map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync)),
    );
    all
}

/// How many profiles the selector picks.
pub async fn count_selection(
    client: &impl GenericClient,
    domain_id: i64,
    kind: ExportKind,
    selector: &ExportSelector,
) -> Result<i64, StoreError> {
    let (sql, rest) = selection_sql(kind, selector);
    let row = client
        .query_one(
            &format!("SELECT count(*) FROM ({sql}) s"),
            &parameters(&domain_id, &rest),
        )
        .await?;
    Ok(row.get(0))
}

/// Opens a cursor over the selected keys, in key order.
pub async fn open_selection(
    transaction: &Transaction<'_>,
    domain_id: i64,
    kind: ExportKind,
    selector: &ExportSelector,
) -> Result<Portal, StoreError> {
    let (sql, rest) = selection_sql(kind, selector);
    Ok(transaction
        .bind(sql, &parameters(&domain_id, &rest))
        .await?)
}

/// The next `batch` keys of a selection; empty when exhausted.
pub async fn next_selected(
    transaction: &Transaction<'_>,
    portal: &Portal,
    kind: ExportKind,
    batch: i32,
) -> Result<Vec<ExportKey>, StoreError> {
    let rows = transaction.query_portal(portal, batch).await?;
    Ok(rows
        .iter()
        .map(|row| match kind {
            ExportKind::CoreProfiles => ExportKey::Core(row.get(0)),
            ExportKind::AppProfiles => ExportKey::App(row.get(0)),
        })
        .collect())
}
