//! `get_core_profiles`: whole core profiles (identities with metadata, app profile pids,
//! timestamps) read with three queries per chunk and serialised by serde; selectors are planned
//! by the runtime into chunks of ids. With a read replica, the runtime hands a caught-up one in
//! the chunk context and the profiles are read there.

use std::collections::{HashMap, HashSet};
use userhub_domain::CoreProfileId;
use userhub_domain::profile::view::CoreProfileView;
use userhub_domain::record::{ExportRequest, ExportTarget, parse_export_record};
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::exports::{ExportKind, core_profiles};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{ChunkContext, Handled, Outcome, TaskHandler, Work, replica_first};

/// The handler of `get_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetCoreProfiles;

/// An export record turned into the id it asks for.
fn requested_id(request: ExportRequest) -> Result<CoreProfileId, Vec<FieldError>> {
    match request {
        ExportRequest::CoreProfile(id) => Ok(id),
        _ => Err(vec![FieldError::new(
            "",
            ErrorCode::InvalidValue,
            "an export selector must be the only record of its task",
        )]),
    }
}

impl TaskHandler for GetCoreProfiles {
    type Input = CoreProfileId;
    type Output = CoreProfileView;

    fn action(&self) -> TaskAction {
        TaskAction::GetCoreProfiles
    }

    fn export_kind(&self) -> Option<ExportKind> {
        Some(ExportKind::CoreProfiles)
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<CoreProfileId, Vec<FieldError>> {
        parse_export_record(record, ExportTarget::CoreProfiles).and_then(requested_id)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<CoreProfileId>],
    ) -> Result<Handled<CoreProfileView>, StoreError> {
        let ids: Vec<CoreProfileId> = records.iter().map(|work| work.input).collect();
        let views = replica_first(
            chunk
                .replica
                .as_ref()
                .map(|replica| core_profiles(replica.client(), chunk.domain_id, &ids)),
            core_profiles(transaction, chunk.domain_id, &ids),
        )
        .await?;
        let mut found: HashMap<CoreProfileId, CoreProfileView> =
            views.into_iter().map(|view| (view.id, view)).collect();
        let mut first_of: HashMap<CoreProfileId, u32> = HashMap::new();
        let mut exported: HashSet<CoreProfileId> = HashSet::new();
        let outcomes = records
            .iter()
            .map(|work| {
                let id = work.input;
                if let Some(first) = first_of.get(&id).filter(|_| exported.contains(&id)) {
                    return Outcome::Failed(vec![
                        FieldError::new(
                            "core-profile-id",
                            ErrorCode::DuplicateInPayload,
                            format!("record {first} of this payload already exports this profile"),
                        )
                        .with_details(serde_json::json!({ "index": first })),
                    ]);
                }
                first_of.insert(id, work.index);
                match found.remove(&id) {
                    Some(view) => {
                        exported.insert(id);
                        Outcome::Succeeded(view)
                    }
                    None => Outcome::Failed(vec![FieldError::new(
                        "core-profile-id",
                        ErrorCode::NotFound,
                        format!("core profile {id} does not exist"),
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
