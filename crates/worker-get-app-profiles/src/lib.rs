//! `get_app_profiles`: whole app profiles (with their app and core profile) read with one query
//! per chunk and serialised by serde; selectors are planned by the runtime into chunks of pids.

use std::collections::{HashMap, HashSet};
use userhub_domain::profile::view::AppProfileView;
use userhub_domain::record::{ExportRequest, ExportTarget, parse_export_record};
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::exports::{ExportKind, app_profiles};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{ChunkContext, Handled, Outcome, TaskHandler, Work, replica_first};

/// The handler of `get_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetAppProfiles;

fn requested_pid(request: ExportRequest) -> Result<String, Vec<FieldError>> {
    match request {
        ExportRequest::AppProfile(pid) => Ok(pid),
        _ => Err(vec![FieldError::new(
            "",
            ErrorCode::InvalidValue,
            "an export selector must be the only record of its task",
        )]),
    }
}

impl TaskHandler for GetAppProfiles {
    type Input = String;
    type Output = AppProfileView;

    fn action(&self) -> TaskAction {
        TaskAction::GetAppProfiles
    }

    fn export_kind(&self) -> Option<ExportKind> {
        Some(ExportKind::AppProfiles)
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<String, Vec<FieldError>> {
        parse_export_record(record, ExportTarget::AppProfiles).and_then(requested_pid)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<String>],
    ) -> Result<Handled<AppProfileView>, StoreError> {
        let pids: Vec<&str> = records.iter().map(|work| work.input.as_str()).collect();
        let views = replica_first(
            chunk
                .replica
                .as_ref()
                .map(|replica| app_profiles(replica.client(), chunk.domain_id, &pids)),
            app_profiles(transaction, chunk.domain_id, &pids),
        )
        .await?;
        let mut found: HashMap<String, AppProfileView> = views
            .into_iter()
            .map(|view| (view.pid.clone(), view))
            .collect();
        let mut first_of: HashMap<&str, u32> = HashMap::new();
        let mut exported: HashSet<&str> = HashSet::new();
        let outcomes = records
            .iter()
            .map(|work| {
                let pid = work.input.as_str();
                if let Some(first) = first_of.get(pid).filter(|_| exported.contains(pid)) {
                    return Outcome::Failed(vec![
                        FieldError::new(
                            "pid",
                            ErrorCode::DuplicateInPayload,
                            format!("record {first} of this payload already exports this profile"),
                        )
                        .with_details(serde_json::json!({ "index": first })),
                    ]);
                }
                first_of.insert(pid, work.index);
                match found.remove(pid) {
                    Some(view) => {
                        exported.insert(pid);
                        Outcome::Succeeded(view)
                    }
                    None => Outcome::Failed(vec![FieldError::new(
                        "pid",
                        ErrorCode::NotFound,
                        format!("app profile `{pid}` does not exist"),
                    )]),
                }
            })
            .collect();
        Ok(Handled {
            outcomes,
            changes: Vec::new(),
        })
    }
}
