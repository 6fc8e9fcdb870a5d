//! Reads that may go to the read replica (`database.read_url`): a task's status and the task
//! list. A task the replica has not replayed yet, or a replica that does not answer, is read
//! from the primary instead, so a status right after `201` is never `404`.

use userhub_domain::TaskId;
use userhub_http_common::{ApiContext, Principal};
use userhub_store::StoreError;
use userhub_store::tasks::{TaskFilter, TaskRecord, find_task, list_tasks};

/// A task of `domain_id`, from the replica when it has it.
pub async fn read_task(
    context: &ApiContext,
    principal: &Principal,
    task_id: TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    let domain_id = principal.domain.id;
    if let Some(replica) = context.replica(principal) {
        match replica.get().await {
            Ok(client) => match find_task(&*client, domain_id, task_id).await {
                Ok(Some(task)) => return Ok(Some(task)),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "the read replica failed; reading the primary")
                }
            },
            Err(error) => {
                tracing::warn!(%error, "the read replica is unavailable; reading the primary")
            }
        }
    }
    let client = context.database(principal).get().await?;
    find_task(&*client, domain_id, task_id).await
}

/// A page of the domain's tasks, from the replica when it answers.
pub async fn read_tasks(
    context: &ApiContext,
    principal: &Principal,
    filter: &TaskFilter,
) -> Result<Vec<TaskRecord>, StoreError> {
    let domain_id = principal.domain.id;
    if let Some(replica) = context.replica(principal) {
        let listed = match replica.get().await {
            Ok(client) => list_tasks(&*client, domain_id, filter).await,
            Err(error) => Err(error),
        };
        match listed {
            Ok(tasks) => return Ok(tasks),
            Err(error) => {
                tracing::warn!(%error, "the read replica failed; listing from the primary")
            }
        }
    }
    let client = context.database(principal).get().await?;
    list_tasks(&*client, domain_id, filter).await
}
