//! What `get_app_profiles` reads, refuses and reports, over the task protocol with PostgreSQL
//! alone — by pid and by selector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use userhub_domain::{CoreProfileId, ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::{seed_app_profiles, seed_core_profiles};
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_get_app_profiles::GetAppProfiles;

const GET: TaskAction = TaskAction::GetAppProfiles;

/// A protocol running app exports, and the pids of `count` app profiles of one core profile.
async fn protocol(count: usize) -> (Protocol, CoreProfileId, Vec<String>) {
    let mut protocol = Protocol::start().await;
    protocol.run(GetAppProfiles);
    let core = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"owner\"}]}"],
    )
    .await[0];
    let records: Vec<String> = (0..count)
        .map(|n| format!("{{\"core-profile-id\":{core},\"app_id\":\"app{n}\",\"user_level\":{n}}}"))
        .collect();
    let records: Vec<&str> = records.iter().map(String::as_str).collect();
    let domain = protocol.submitter.domain.clone();
    let pids = seed_app_profiles(protocol.pool(), protocol.domain_id(), &domain, &records).await;
    (protocol, core, pids)
}

#[tokio::test]
async fn each_requested_app_profile_is_exported_with_its_owner() {
    let (protocol, core, pids) = protocol(2).await;
    let lines = format!("{{\"pid\":\"{}\"}}\n", pids[1]);
    let finished = protocol.run_task(GET, TaskOptions::default(), &lines).await;
    let line = finished.summary()[0].clone().unwrap();
    assert_eq!(line["pid"], pids[1].as_str());
    assert_eq!(line["app_id"], "app1");
    assert_eq!(line["user_level"], 1);
    assert_eq!(line["core-profile-id"], core.get());
}

#[tokio::test]
async fn an_unknown_or_repeated_pid_fails_only_that_record() {
    let (protocol, _, pids) = protocol(1).await;
    let lines = format!(
        "{{\"pid\":\"{pid}\"}}\n{{\"pid\":\"nobody_profile_0\"}}\n{{\"pid\":\"{pid}\"}}\n",
        pid = pids[0]
    );
    let finished = protocol.run_task(GET, TaskOptions::default(), &lines).await;
    let summary = finished.summary();
    assert!(summary[0].is_ok());
    assert_eq!(summary[1], Err(ErrorCode::NotFound));
    assert_eq!(summary[2], Err(ErrorCode::DuplicateInPayload));
}

#[tokio::test]
async fn a_selector_exports_every_app_profile() {
    let (protocol, _, mut pids) = protocol(5).await;
    let finished = protocol
        .run_task(GET, TaskOptions::default(), "{\"all\":true}\n")
        .await;
    assert_eq!(finished.task.total, 5);
    let mut exported: Vec<String> = finished
        .summary()
        .into_iter()
        .map(|outcome| outcome.unwrap()["pid"].as_str().unwrap().to_owned())
        .collect();
    exported.sort();
    pids.sort();
    assert_eq!(exported, pids);
}
