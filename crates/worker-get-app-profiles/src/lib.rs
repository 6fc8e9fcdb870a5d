//! `get_app_profiles`: whole app profiles (with their app and core profile) rendered as JSON by
//! PostgreSQL, one query per chunk; selectors are planned by the runtime into chunks of pids.

use std::collections::HashMap;
use userhub_domain::profile::selector::parse_app_export_record;
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::exports::{ExportKind, app_profiles_json};
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `get_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetAppProfiles;

fn parse(record: &WorkRecord) -> Result<String, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_app_export_record(&value))
}

impl TaskHandler for GetAppProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::GetAppProfiles
    }

    fn export_kind(&self) -> Option<ExportKind> {
        Some(ExportKind::AppProfiles)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let wanted: Vec<Result<String, Vec<FieldError>>> = records.iter().map(parse).collect();
        let pids: Vec<&str> = wanted.iter().flatten().map(String::as_str).collect();
        let mut found: HashMap<String, String> =
            app_profiles_json(transaction, chunk.domain_id, &pids)
                .await?
                .into_iter()
                .collect();
        Ok(wanted
            .into_iter()
            .map(|pid| match pid {
                Err(errors) => Outcome::Failed(errors),
                Ok(pid) => match found.remove(&pid) {
                    Some(json) => Outcome::SucceededJson(json),
                    None => Outcome::Failed(vec![FieldError::new(
                        "pid",
                        ErrorCode::NotFound,
                        format!("app profile `{pid}` does not exist"),
                    )]),
                },
            })
            .collect())
    }
}
