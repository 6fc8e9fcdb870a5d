//! Reading a task's stored outcome lines back, blob by blob in index order: for the synchronous
//! answer (`sync.rs`) and for retries of failed records (`retry.rs`).

use crate::error::GatewayError;
use userhub_domain::TaskKey;
use userhub_domain::outcome_line::{self, OutcomeLine};
use userhub_store::GenericClient;
use userhub_store::ledger::{OutcomeKind, OutcomePosition, outcome_page};

/// Blobs read per round trip.
const BLOBS_PER_FETCH: i64 = 32;

/// Calls `visit` with every `kind` line of the task, in the order the blobs are stored.
pub(crate) async fn for_each_line(
    client: &impl GenericClient,
    task: TaskKey,
    kind: OutcomeKind,
    mut visit: impl FnMut(&OutcomeLine<'_>) -> Result<(), GatewayError>,
) -> Result<(), GatewayError> {
    let task_id = task.task_id;
    let mut after = OutcomePosition::START;
    loop {
        let blobs = outcome_page(client, task, kind, after, BLOBS_PER_FETCH).await?;
        let Some(last) = blobs.last() else {
            return Ok(());
        };
        after = last.position;
        for blob in blobs {
            let text = blob
                .text()
                .map_err(|source| GatewayError::StoredOutcomes { task_id, source })?;
            for line in outcome_line::lines(&text).filter_map(OutcomeLine::parse) {
                visit(&line)?;
            }
        }
    }
}
