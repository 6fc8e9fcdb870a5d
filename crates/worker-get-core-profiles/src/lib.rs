//! `get_core_profiles`: whole core profiles (identities with metadata, app profile pids,
//! timestamps) rendered as JSON by PostgreSQL, one query per chunk; selectors are planned by the
//! runtime into chunks of ids.

use std::collections::HashMap;
use userhub_domain::profile::selector::parse_core_export_record;
use userhub_domain::{CoreProfileId, ErrorCode, FieldError, TaskAction};
use userhub_store::exports::{ExportKind, core_profiles_json};
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `get_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetCoreProfiles;

fn parse(record: &WorkRecord) -> Result<CoreProfileId, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_core_export_record(&value))
}

impl TaskHandler for GetCoreProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::GetCoreProfiles
    }

    fn export_kind(&self) -> Option<ExportKind> {
        Some(ExportKind::CoreProfiles)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let wanted: Vec<Result<CoreProfileId, Vec<FieldError>>> =
            records.iter().map(parse).collect();
        let ids: Vec<i64> = wanted.iter().flatten().map(|id| id.get()).collect();
        let mut found: HashMap<i64, String> =
            core_profiles_json(transaction, chunk.domain_id, &ids)
                .await?
                .into_iter()
                .collect();
        Ok(wanted
            .into_iter()
            .map(|id| match id {
                Err(errors) => Outcome::Failed(errors),
                Ok(id) => match found.remove(&id.get()) {
                    Some(json) => Outcome::SucceededJson(json),
                    None => Outcome::Failed(vec![FieldError::new(
                        "core-profile-id",
                        ErrorCode::NotFound,
                        format!("core profile {id} does not exist"),
                    )]),
                },
            })
            .collect())
    }
}
