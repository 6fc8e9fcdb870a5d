//! Reverting a task (EXT): the before-images a revertible task's chunks capture (through the
//! statement triggers of migration 0019, turned on per transaction by [`capture_changes`], and
//! [`capture_added_identities`] for identities added to existing profiles), the profiles a task
//! touched, and undoing one chunk of them — created profiles deleted, changed ones given back
//! their fields, identities and app profiles — unless a later task changed them.

use crate::error::StoreError;
use crate::identities::{Columns, OwnedIdentity};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::FieldSet;
use userhub_domain::profile::app::AppField;
use userhub_domain::profile::core::CoreField;
use userhub_domain::values::Version;
use userhub_domain::{DomainId, TaskId};

/// Captures the before-images of what this transaction changes for `task_id`.
pub async fn capture_changes(
    client: &impl GenericClient,
    task_id: TaskId,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/capture.sql"))
        .await?;
    client.query_one(&statement, &[&task_id.as_i64()]).await?;
    Ok(())
}

/// Captures the identities this transaction just added to profiles that existed before its
/// chunk (a revert removes them), when [`capture_changes`] is on; a plain statement rather than
/// an insert trigger, whose transition table would make PostgreSQL insert each row of the
/// identities' `COPY` on its own.
pub async fn capture_added_identities(
    client: &impl GenericClient,
    domain_id: DomainId,
    rows: &[OwnedIdentity<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::of(rows);
    let statement = client
        .prepare_cached(include_str!(
            "../queries/reverts/capture_added_identities.sql"
        ))
        .await?;
    client
        .query(
            &statement,
            &[&domain_id.as_i64(), &c.owners, &c.kinds, &c.normalized],
        )
        .await?;
    Ok(())
}

/// Lists the core profiles chunk `chunk_no` of `task_id` created (nothing when none).
pub async fn record_created(
    client: &impl GenericClient,
    domain_id: DomainId,
    task_id: TaskId,
    chunk_no: u32,
    created: &[CoreProfileId],
) -> Result<(), StoreError> {
    if created.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/record_created.sql"))
        .await?;
    client
        .execute(
            &statement,
            &[
                &task_id.as_i64(),
                &(chunk_no as i32),
                &domain_id.as_i64(),
                &created,
            ],
        )
        .await?;
    Ok(())
}

/// A core profile a task touched: what a revert task's record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    pub core_profile_id: CoreProfileId,
    /// The task created it (a revert deletes it).
    pub created: bool,
}

/// Every core profile `task_id` created or changed, in id order.
pub async fn touched_profiles(
    client: &impl GenericClient,
    domain_id: DomainId,
    task_id: TaskId,
) -> Result<Vec<Touched>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/touched.sql"))
        .await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &task_id.as_i64()])
        .await?;
    Ok(rows
        .iter()
        .map(|row| Touched {
            core_profile_id: row.get(0),
            created: row.get(1),
        })
        .collect())
}

/// Whether `task_id`'s before-images were deleted after the retention period.
pub async fn images_expired(
    client: &impl GenericClient,
    domain_id: DomainId,
    task_id: TaskId,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/expired.sql"))
        .await?;
    let row = client
        .query_opt(&statement, &[&domain_id.as_i64(), &task_id.as_i64()])
        .await?;
    Ok(row.is_some_and(|row| row.get(0)))
}

/// The revert task made for `task_id`, if any.
pub async fn revert_task_of(
    client: &impl GenericClient,
    domain_id: DomainId,
    task_id: TaskId,
) -> Result<Option<TaskId>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/revert_task_of.sql"))
        .await?;
    let row = client
        .query_opt(&statement, &[&domain_id.as_i64(), &task_id.as_i64()])
        .await?;
    Ok(row.map(|row| TaskId::from(row.get::<_, i64>(0))))
}

/// An app profile a revert deleted or gave back its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppReverted {
    pub pid: String,
    pub app_id: String,
    /// `None`: the reverted task had created it, and it was deleted.
    pub restored: Option<FieldSet<AppField>>,
    /// The external version it has back (none once deleted).
    pub version: Option<Version>,
}

/// What reverting one profile did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertResult {
    /// The task had created the profile: it is deleted with its identities and app profiles.
    Deleted { apps: Vec<AppReverted> },
    /// The profile has its fields, identities and app profiles back as they were before the
    /// task; `fields` changed back.
    Restored {
        fields: FieldSet<CoreField>,
        apps: Vec<AppReverted>,
        /// Its external version now.
        version: Option<Version>,
    },
    /// Another task changed the profile after the reverted one: nothing was done.
    ChangedLater { task_id: TaskId },
    /// The profile no longer exists.
    Missing,
    /// The reverted task's before-images were deleted after the retention period.
    Expired,
}

/// Reverts `parent`'s changes to `targets` (one chunk of revert task `revert`), in one
/// transaction: returns one result per target, in order.
pub async fn revert_profiles(
    client: &impl GenericClient,
    domain_id: DomainId,
    parent: TaskId,
    revert: TaskId,
    targets: &[Touched],
) -> Result<Vec<RevertResult>, StoreError> {
    let domain = domain_id.as_i64();
    let parent_id = parent.as_i64();
    let expired = client
        .prepare_cached(include_str!("../queries/reverts/parent_expired.sql"))
        .await?;
    let gone = client
        .query_opt(&expired, &[&domain, &parent_id])
        .await?
        .is_none_or(|row| row.get::<_, bool>(0));
    if gone {
        return Ok(targets.iter().map(|_| RevertResult::Expired).collect());
    }
    let ids: Vec<CoreProfileId> = targets.iter().map(|t| t.core_profile_id).collect();
    let created: Vec<bool> = targets.iter().map(|t| t.created).collect();
    let lock = client
        .prepare_cached(include_str!("../queries/reverts/lock.sql"))
        .await?;
    let present: HashMap<CoreProfileId, Option<Version>> = client
        .query(&lock, &[&domain, &ids])
        .await?
        .iter()
        .map(|row| (row.get(0), crate::core_profiles::version_of(row)))
        .collect();
    let later = client
        .prepare_cached(include_str!("../queries/reverts/later_changes.sql"))
        .await?;
    let later: HashMap<CoreProfileId, TaskId> = client
        .query(&later, &[&domain, &ids, &parent_id, &created])
        .await?
        .iter()
        .filter_map(|row| {
            let task: Option<i64> = row.get(1);
            task.map(|task| (row.get::<_, CoreProfileId>(0), TaskId::from(task)))
        })
        .collect();
    let free = |t: &&Touched| {
        present.contains_key(&t.core_profile_id) && !later.contains_key(&t.core_profile_id)
    };
    let deleting: Vec<CoreProfileId> = targets
        .iter()
        .filter(free)
        .filter(|t| t.created)
        .map(|t| t.core_profile_id)
        .collect();
    let restoring: Vec<CoreProfileId> = targets
        .iter()
        .filter(free)
        .filter(|t| !t.created)
        .map(|t| t.core_profile_id)
        .collect();
    let deleted_apps = delete_profiles(client, domain, &deleting).await?;
    let restored = restore(client, domain, parent_id, &restoring).await?;
    let done: Vec<CoreProfileId> = deleting.iter().chain(&restoring).copied().collect();
    let mark = client
        .prepare_cached(include_str!("../queries/reverts/mark_reverted.sql"))
        .await?;
    client
        .execute(&mark, &[&domain, &done, &parent_id, &revert.as_i64()])
        .await?;
    let mut deleted_apps = deleted_apps;
    let mut restored = restored;
    Ok(targets
        .iter()
        .map(|target| {
            let id = target.core_profile_id;
            if let Some(task_id) = later.get(&id) {
                RevertResult::ChangedLater { task_id: *task_id }
            } else if !present.contains_key(&id) {
                RevertResult::Missing
            } else if target.created {
                RevertResult::Deleted {
                    apps: deleted_apps.remove(&id).unwrap_or_default(),
                }
            } else {
                let back = restored.remove(&id).unwrap_or_default();
                RevertResult::Restored {
                    fields: back.fields,
                    apps: back.apps,
                    version: back.version.unwrap_or(present[&id]),
                }
            }
        })
        .collect())
}

type AppsByProfile = HashMap<CoreProfileId, Vec<AppReverted>>;

async fn delete_profiles(
    client: &impl GenericClient,
    domain: i64,
    ids: &[CoreProfileId],
) -> Result<AppsByProfile, StoreError> {
    let mut apps = AppsByProfile::new();
    if ids.is_empty() {
        return Ok(apps);
    }
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/delete_profiles.sql"))
        .await?;
    for row in client.query(&statement, &[&domain, &ids]).await? {
        apps.entry(row.get(0)).or_default().push(AppReverted {
            pid: row.get(1),
            app_id: row.get(2),
            restored: None,
            version: None,
        });
    }
    Ok(apps)
}

/// What restoring one profile gave back.
#[derive(Default)]
struct Restoration {
    fields: FieldSet<CoreField>,
    /// Set when its row was restored from a before-image (to that image's version).
    version: Option<Option<Version>>,
    apps: Vec<AppReverted>,
}

type Restored = HashMap<CoreProfileId, Restoration>;

async fn restore(
    client: &impl GenericClient,
    domain: i64,
    parent: i64,
    ids: &[CoreProfileId],
) -> Result<Restored, StoreError> {
    let mut restored = Restored::new();
    if ids.is_empty() {
        return Ok(restored);
    }
    let core = client
        .prepare_cached(include_str!("../queries/reverts/restore_core.sql"))
        .await?;
    for row in client.query(&core, &[&domain, &ids, &parent]).await? {
        let fields: Vec<String> = row.get(1);
        let restoration = restored.entry(row.get(0)).or_default();
        restoration.fields = FieldSet::from_names(fields.iter().map(String::as_str));
        restoration.version = Some(crate::core_profiles::version_of(&row));
    }
    let identities = client
        .prepare_cached(include_str!("../queries/reverts/restore_identities.sql"))
        .await?;
    for row in client.query(&identities, &[&domain, &ids, &parent]).await? {
        restored
            .entry(row.get(0))
            .or_default()
            .fields
            .insert(CoreField::Identities);
    }
    let apps = client
        .prepare_cached(include_str!("../queries/reverts/restore_apps.sql"))
        .await?;
    for row in client.query(&apps, &[&domain, &ids, &parent]).await? {
        let fields: Option<Vec<String>> = row.get(3);
        restored
            .entry(row.get(0))
            .or_default()
            .apps
            .push(AppReverted {
                pid: row.get(1),
                app_id: row.get(2),
                restored: fields
                    .map(|fields| FieldSet::from_names(fields.iter().map(String::as_str))),
                version: crate::core_profiles::version_of(&row),
            });
    }
    Ok(restored)
}

/// Deletes the before-images of up to `batch` tasks completed more than `days` ago; returns
/// how many tasks.
pub async fn expire_before_images(
    client: &impl GenericClient,
    days: u32,
    batch: i64,
) -> Result<u64, StoreError> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let statement = client
        .prepare_cached(include_str!("../queries/reverts/expire.sql"))
        .await?;
    Ok(client.execute(&statement, &[&days, &batch]).await?)
}
