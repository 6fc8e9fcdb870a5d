//! Test support (feature `testing`): profiles written straight through the profile service, so
//! that the tests of a task type start from profiles that exist without running another task
//! type.

use crate::{AppOutcome, CoreOutcome, Indexed};
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::record::{parse_new_app_profile, parse_new_core_profile};
use userhub_store::Pool;
use userhub_store::core_profiles::IdSequence;

/// The records as a batch, indexed in the order given.
fn in_order<T>(records: &[T]) -> Vec<Indexed<'_, T>> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| Indexed {
            index: index as u32,
            record,
        })
        .collect()
}

/// Creates a core profile per record (as `create_core_profiles` would) and returns their ids.
/// Panics on a record that is refused: seeds are the test's own.
pub async fn seed_core_profiles(
    pool: &Pool,
    domain_id: DomainId,
    records: &[&str],
) -> Vec<CoreProfileId> {
    let parsed: Vec<_> = records
        .iter()
        .map(|text| parse_new_core_profile(text).expect("a valid seed profile"))
        .collect();
    let batch = in_order(&parsed);
    let mut client = pool.get().await.expect("a connection");
    let transaction = client.transaction().await.expect("a transaction");
    let applied = crate::core::create(&transaction, domain_id, &batch, IdSequence::Profiles)
        .await
        .expect("the seed profiles are written");
    transaction.commit().await.expect("the seed commits");
    applied
        .outcomes
        .into_iter()
        .map(|outcome| match outcome {
            CoreOutcome::Created { id } => id,
            other => panic!("a seed profile was not created: {other:?}"),
        })
        .collect()
}

/// Creates an app profile per record (`{"core-profile-id", "app_id", ...}`) and returns their
/// pids.
pub async fn seed_app_profiles(
    pool: &Pool,
    domain_id: DomainId,
    domain: &str,
    records: &[&str],
) -> Vec<String> {
    let parsed: Vec<_> = records
        .iter()
        .map(|text| parse_new_app_profile(text).expect("a valid seed app profile"))
        .collect();
    let batch = in_order(&parsed);
    let mut client = pool.get().await.expect("a connection");
    let transaction = client.transaction().await.expect("a transaction");
    let applied = crate::app::create(&transaction, domain_id, domain, &batch)
        .await
        .expect("the seed app profiles are written");
    transaction.commit().await.expect("the seed commits");
    applied
        .outcomes
        .into_iter()
        .map(|outcome| match outcome {
            AppOutcome::Created { pid, .. } => pid,
            other => panic!("a seed app profile was not created: {other:?}"),
        })
        .collect()
}
