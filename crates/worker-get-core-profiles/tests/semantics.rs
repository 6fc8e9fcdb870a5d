//! What `get_core_profiles` reads, refuses and reports, over the task protocol with PostgreSQL
//! alone — by id and by selector (planned into chunks by the protocol).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_domain::{CoreProfileId, ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::TaskError;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_get_core_profiles::GetCoreProfiles;

const GET: TaskAction = TaskAction::GetCoreProfiles;

async fn protocol(profiles: usize) -> (Protocol, Vec<CoreProfileId>) {
    let mut protocol = Protocol::start().await;
    protocol.run(GetCoreProfiles);
    let records: Vec<String> = (0..profiles)
        .map(|n| format!("{{\"identities\":[{{\"uid\":\"u{n}\"}}],\"tags\":[\"t{n}\"]}}"))
        .collect();
    let records: Vec<&str> = records.iter().map(String::as_str).collect();
    let ids = seed_core_profiles(protocol.pool(), protocol.domain_id(), &records).await;
    (protocol, ids)
}

#[tokio::test]
async fn each_requested_profile_is_exported_whole() {
    let (protocol, ids) = protocol(2).await;
    let lines = format!(
        "{{\"core-profile-id\":{}}}\n{{\"core-profile-id\":\"{}\"}}\n",
        ids[1], ids[0]
    );
    let finished = protocol.run_task(GET, TaskOptions::default(), &lines).await;
    let summary = finished.summary();
    let second = summary[0].clone().unwrap();
    assert_eq!(second["core-profile-id"], ids[1].get());
    assert_eq!(second["tags"], json!(["t1"]));
    assert_eq!(second["identities"][0]["uid"], "u1");
    assert_eq!(summary[1].clone().unwrap()["core-profile-id"], ids[0].get());
}

#[tokio::test]
async fn an_unknown_or_repeated_profile_fails_only_that_record() {
    let (protocol, ids) = protocol(1).await;
    let lines = format!(
        "{{\"core-profile-id\":{id}}}\n{{\"core-profile-id\":999999999}}\n{{\"core-profile-id\":{id}}}\n{{\"uid\":\"x\"}}\n",
        id = ids[0]
    );
    let finished = protocol.run_task(GET, TaskOptions::default(), &lines).await;
    let summary = finished.summary();
    assert!(summary[0].is_ok());
    assert_eq!(summary[1], Err(ErrorCode::NotFound));
    assert_eq!(summary[2], Err(ErrorCode::DuplicateInPayload));
    assert!(summary[3].is_err(), "a record without an id is refused");
}

#[tokio::test]
async fn a_selector_exports_every_profile_in_planned_chunks() {
    let (protocol, ids) = protocol(7).await;
    let finished = protocol
        .run_task(GET, TaskOptions::default(), "{\"all\":true}\n")
        .await;
    assert_eq!(finished.task.total, 7);
    let exported: Vec<CoreProfileId> = finished
        .summary()
        .into_iter()
        .map(|outcome| {
            outcome.unwrap()["core-profile-id"]
                .as_i64()
                .and_then(CoreProfileId::new)
                .unwrap()
        })
        .collect();
    assert_eq!(exported, ids, "in id order, each once");
    assert!(matches!(
        protocol
            .submit(
                GET,
                TaskOptions::default(),
                "{\"all\":true}\n{\"core-profile-id\":1}\n"
            )
            .await,
        Err(TaskError::SelectorNotAlone)
    ));
}
