//! Exports: the JSON of whole profiles for a chunk of ids, and cursors over the profiles an
//! export selector picks, so that a million-profile export streams in bounded memory.

use crate::error::StoreError;
use crate::identities::identities_of;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use std::collections::HashMap;
use tokio_postgres::Portal;
use tokio_postgres::types::ToSql;
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::Identity;
use userhub_domain::profile::selector::ExportSelector;
use userhub_domain::profile::view::{AppProfileView, CoreProfileView};

/// What an export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    CoreProfiles,
    AppProfiles,
}

/// A selected profile: a core profile id or an app profile pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKey {
    Core(CoreProfileId),
    App(String),
}

const CORE_PROFILES: &str = include_str!("../queries/exports/core_profiles.sql");
const APP_PIDS: &str = include_str!("../queries/exports/app_pids.sql");
const APP_PROFILES: &str = include_str!("../queries/exports/app_profiles.sql");

fn epoch_ms(row: &tokio_postgres::Row, column: &str) -> i64 {
    row.get::<_, DateTime<Utc>>(column).timestamp_millis()
}

/// The domain's core profiles among `ids`, whole (identities and app profile pids included).
pub async fn core_profiles(
    client: &impl GenericClient,
    domain_id: DomainId,
    ids: &[CoreProfileId],
) -> Result<Vec<CoreProfileView>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The three queries go out together (tokio-postgres pipelines them on the connection):
    // identities and app profiles are asked for by the requested ids, since an id that is not
    // the domain's profile has neither.
    let domain = domain_id.as_i64();
    let (rows, owned, app_pids) = tokio::try_join!(
        async {
            let statement = client.prepare_cached(CORE_PROFILES).await?;
            Ok::<_, StoreError>(client.query(&statement, &[&domain, &ids]).await?)
        },
        identities_of(client, domain_id, ids),
        async {
            let statement = client.prepare_cached(APP_PIDS).await?;
            Ok::<_, StoreError>(client.query(&statement, &[&domain, &ids]).await?)
        },
    )?;
    let mut identities: HashMap<CoreProfileId, Vec<Identity>> = HashMap::new();
    for (owner, identity) in owned {
        identities.entry(owner).or_default().push(identity);
    }
    let mut pids: HashMap<CoreProfileId, Vec<String>> = HashMap::new();
    for row in app_pids {
        pids.entry(row.get(0)).or_default().push(row.get(1));
    }
    Ok(rows
        .iter()
        .map(|row| {
            let id: CoreProfileId = row.get("id");
            CoreProfileView::new(
                id,
                crate::core_profiles::state_of(row),
                identities.remove(&id).unwrap_or_default(),
                pids.remove(&id).unwrap_or_default(),
                epoch_ms(row, "created_at"),
                epoch_ms(row, "updated_at"),
            )
        })
        .collect())
}

/// The domain's app profiles among `pids`.
pub async fn app_profiles(
    client: &impl GenericClient,
    domain_id: DomainId,
    pids: &[&str],
) -> Result<Vec<AppProfileView>, StoreError> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client.prepare_cached(APP_PROFILES).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &pids])
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            AppProfileView::new(
                row.get("pid"),
                row.get("app_id"),
                row.get("core_profile_id"),
                crate::app_profiles::state_of(row),
                epoch_ms(row, "created_at"),
                epoch_ms(row, "updated_at"),
            )
        })
        .collect())
}

/// The first instant of millisecond `ms`: `updated_since` includes its whole millisecond.
fn since(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The query selecting keys (in key order) and its parameters besides the domain (`$1`).
fn selection_sql(
    kind: ExportKind,
    selector: &ExportSelector,
) -> (&'static str, Vec<Box<dyn ToSql + Sync + Send>>) {
    match (kind, selector) {
        (ExportKind::CoreProfiles, ExportSelector::All) => (
            include_str!("../queries/exports/select_all_core.sql"),
            vec![],
        ),
        (ExportKind::CoreProfiles, ExportSelector::UpdatedSince(ms)) => (
            include_str!("../queries/exports/select_core_updated_since.sql"),
            vec![Box::new(since(*ms))],
        ),
        (ExportKind::CoreProfiles, ExportSelector::Identity { kind, normalized }) => (
            include_str!("../queries/exports/select_core_by_identity.sql"),
            vec![
                Box::new(kind.as_str().to_owned()),
                Box::new(normalized.clone()),
            ],
        ),
        (ExportKind::AppProfiles, ExportSelector::All) => (
            include_str!("../queries/exports/select_all_app.sql"),
            vec![],
        ),
        (ExportKind::AppProfiles, ExportSelector::UpdatedSince(ms)) => (
            include_str!("../queries/exports/select_app_updated_since.sql"),
            vec![Box::new(since(*ms))],
        ),
        (ExportKind::AppProfiles, ExportSelector::Identity { kind, normalized }) => (
            include_str!("../queries/exports/select_app_by_identity.sql"),
            vec![
                Box::new(kind.as_str().to_owned()),
                Box::new(normalized.clone()),
            ],
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
    domain_id: DomainId,
    kind: ExportKind,
    selector: &ExportSelector,
) -> Result<i64, StoreError> {
    let (sql, rest) = selection_sql(kind, selector);
    let row = client
        .query_one(
            &include_str!("../queries/exports/count.sql").replace("{selection}", sql),
            &parameters(&domain_id.as_i64(), &rest),
        )
        .await?;
    Ok(row.get(0))
}

/// Opens a cursor over the selected keys, in key order.
pub async fn open_selection(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    kind: ExportKind,
    selector: &ExportSelector,
) -> Result<Portal, StoreError> {
    let (sql, rest) = selection_sql(kind, selector);
    Ok(transaction
        .bind(sql, &parameters(&domain_id.as_i64(), &rest))
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
