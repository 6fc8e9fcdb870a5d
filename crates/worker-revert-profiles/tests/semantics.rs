//! What `revert_profiles` undoes, refuses and reports, over the task protocol with PostgreSQL
//! alone: the reverted tasks are written by a small create-or-update task type of this test,
//! through the profile service, so that their chunks keep before-images like any write task.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Serialize;
use serde_json::json;
use userhub_domain::profile::core::{CoreProfilePatch, NewCoreProfile};
use userhub_domain::record::{parse_core_profile_patch, parse_new_core_profile};
use userhub_domain::{CoreProfileId, ErrorCode, FieldError, TaskAction, TaskId, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_profiles::{CoreApplied, CoreOutcome, Indexed};
use userhub_store::core_profiles::IdSequence;
use userhub_store::{StoreError, Transaction};
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_tasks::{ChunkContext, Handled, Outcome, ProfileChangeNote, TaskHandler, Work};
use userhub_worker_revert_profiles::RevertProfiles;

/// Creates core profiles (`create_core_profiles`) through the profile service.
struct Creates;
/// Updates core profiles (`update_core_profiles`) through the profile service.
struct Updates;

#[derive(Serialize)]
struct Written {
    #[serde(rename = "core-profile-id")]
    id: CoreProfileId,
}

fn handled(applied: CoreApplied) -> Handled<Written> {
    let outcomes = applied
        .outcomes
        .into_iter()
        .map(|outcome| match outcome {
            CoreOutcome::Created { id } | CoreOutcome::Updated { id, .. } => {
                Outcome::Succeeded(Written { id })
            }
            CoreOutcome::Failed(errors) => Outcome::Failed(errors),
        })
        .collect();
    let changes = applied
        .changes
        .iter()
        .map(|change| ProfileChangeNote::core(change.id, change.created, change.changed.names()))
        .collect();
    Handled { outcomes, changes }
}

fn indexed<T>(records: &[Work<T>]) -> Vec<Indexed<'_, T>> {
    records
        .iter()
        .map(|work| Indexed {
            index: work.index,
            record: &work.input,
        })
        .collect()
}

impl TaskHandler for Creates {
    type Input = NewCoreProfile;
    type Output = Written;

    fn action(&self) -> TaskAction {
        TaskAction::CreateCoreProfiles
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<NewCoreProfile, Vec<FieldError>> {
        parse_new_core_profile(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<NewCoreProfile>],
    ) -> Result<Handled<Written>, StoreError> {
        let batch = indexed(records);
        let applied = userhub_profiles::core::create(
            transaction,
            chunk.domain_id,
            &batch,
            IdSequence::Profiles,
        )
        .await?;
        Ok(handled(applied))
    }
}

impl TaskHandler for Updates {
    type Input = CoreProfilePatch;
    type Output = Written;

    fn action(&self) -> TaskAction {
        TaskAction::UpdateCoreProfiles
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<CoreProfilePatch, Vec<FieldError>> {
        parse_core_profile_patch(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<CoreProfilePatch>],
    ) -> Result<Handled<Written>, StoreError> {
        let batch = indexed(records);
        let applied = userhub_profiles::core::update(transaction, chunk.domain_id, &batch).await?;
        Ok(handled(applied))
    }
}

async fn protocol() -> Protocol {
    let mut protocol = Protocol::start().await;
    protocol.run(Creates);
    protocol.run(Updates);
    protocol.run(RevertProfiles);
    protocol
}

async fn revert(protocol: &Protocol, task_id: TaskId) -> userhub_tasks::readback::Finished {
    let submitted = protocol.revert(task_id).await.unwrap();
    protocol.finished(submitted.created.task_id).await
}

async fn age_of(protocol: &Protocol, id: CoreProfileId) -> Option<String> {
    protocol
        .query_text(&format!(
            "SELECT coalesce(age::text, 'none') FROM core_profiles WHERE id = {id}"
        ))
        .await
}

#[tokio::test]
async fn reverting_a_create_deletes_the_profiles_it_made() {
    let protocol = protocol().await;
    let lines = "{\"identities\":[{\"uid\":\"a\"}]}\n{\"identities\":[{\"uid\":\"b\"}]}\n";
    let created = protocol
        .run_task(
            TaskAction::CreateCoreProfiles,
            TaskOptions::default(),
            lines,
        )
        .await;
    let reverted = revert(&protocol, created.task.id).await;
    let lines: Vec<serde_json::Value> =
        reverted.summary().into_iter().map(Result::unwrap).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|line| line["reverted"] == "deleted"));
    let left = protocol
        .query_text("SELECT count(*)::text FROM core_profiles")
        .await;
    assert_eq!(left.as_deref(), Some("0"));
    let identities = protocol
        .query_text("SELECT count(*)::text FROM identities")
        .await;
    assert_eq!(identities.as_deref(), Some("0"), "with their identities");
}

#[tokio::test]
async fn reverting_an_update_gives_back_the_values_before_it() {
    let protocol = protocol().await;
    let id = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"a\"}],\"age\":30,\"tags\":[\"x\"]}"],
    )
    .await[0];
    let update = format!("{{\"core-profile-id\":{id},\"age\":31,\"tags\":[\"y\"]}}\n");
    let updated = protocol
        .run_task(
            TaskAction::UpdateCoreProfiles,
            TaskOptions::default(),
            &update,
        )
        .await;
    assert_eq!(age_of(&protocol, id).await.as_deref(), Some("31"));
    let reverted = revert(&protocol, updated.task.id).await;
    let line = reverted.summary()[0].clone().unwrap();
    assert_eq!(line["reverted"], "restored");
    assert_eq!(line["restored_fields"], json!(["age", "tags"]));
    assert_eq!(age_of(&protocol, id).await.as_deref(), Some("30"));
}

#[tokio::test]
async fn a_profile_a_later_task_changed_is_left_alone_with_a_conflict() {
    let protocol = protocol().await;
    let id = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"a\"}],\"age\":30}"],
    )
    .await[0];
    let first = format!("{{\"core-profile-id\":{id},\"age\":31}}\n");
    let first = protocol
        .run_task(
            TaskAction::UpdateCoreProfiles,
            TaskOptions::default(),
            &first,
        )
        .await;
    let later = format!("{{\"core-profile-id\":{id},\"age\":32}}\n");
    let later = protocol
        .run_task(
            TaskAction::UpdateCoreProfiles,
            TaskOptions::default(),
            &later,
        )
        .await;
    let reverted = revert(&protocol, first.task.id).await;
    assert_eq!(reverted.summary()[0], Err(ErrorCode::Conflict));
    let message = reverted.failures()[0]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains(&later.task.id.to_string()), "{message}");
    assert_eq!(age_of(&protocol, id).await.as_deref(), Some("32"));
}
