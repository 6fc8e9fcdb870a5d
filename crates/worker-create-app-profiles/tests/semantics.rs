//! What `create_app_profiles` writes, refuses and reports, over the task protocol with
//! PostgreSQL alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use userhub_domain::{CoreProfileId, ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_create_app_profiles::CreateAppProfiles;

const CREATE: TaskAction = TaskAction::CreateAppProfiles;

async fn protocol() -> (Protocol, CoreProfileId) {
    let mut protocol = Protocol::start().await;
    protocol.run(CreateAppProfiles);
    let core = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"owner\"}]}"],
    )
    .await[0];
    (protocol, core)
}

async fn stored_app_profiles(protocol: &Protocol) -> String {
    protocol
        .query_text("SELECT count(*)::text FROM app_profiles")
        .await
        .unwrap()
}

#[tokio::test]
async fn an_app_profile_per_core_profile_and_app_with_a_pid_of_the_domain() {
    let (protocol, core) = protocol().await;
    let lines = format!(
        "{{\"core-profile-id\":{core},\"app_id\":\"game\",\"country\":\"fr\",\"user_level\":3}}\n\
         {{\"core-profile-id\":{core},\"app_id\":\"chat\"}}\n"
    );
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), &lines)
        .await;
    let game = finished.summary()[0].clone().unwrap();
    let pid = game["pid"].as_str().unwrap();
    assert!(pid.starts_with("protocol-test_profile_"), "{pid}");
    assert_eq!(game["core-profile-id"], core.get());
    assert_eq!(game["app_id"], "game");
    let country = protocol
        .query_text(&format!(
            "SELECT country FROM app_profiles WHERE pid = '{pid}'"
        ))
        .await;
    assert_eq!(
        country.as_deref(),
        Some("FR"),
        "countries are stored as ISO codes"
    );
    assert_eq!(stored_app_profiles(&protocol).await, "2");
}

#[tokio::test]
async fn an_existing_or_repeated_pair_or_an_unknown_owner_fails_only_that_record() {
    let (protocol, core) = protocol().await;
    let first = format!("{{\"core-profile-id\":{core},\"app_id\":\"game\"}}\n");
    let created = protocol
        .run_task(CREATE, TaskOptions::default(), &first)
        .await;
    let pid = created.summary()[0].clone().unwrap()["pid"].clone();
    let lines = format!(
        "{{\"core-profile-id\":{core},\"app_id\":\"game\"}}\n\
         {{\"core-profile-id\":{core},\"app_id\":\"chat\"}}\n\
         {{\"core-profile-id\":{core},\"app_id\":\"chat\"}}\n\
         {{\"core-profile-id\":999999999,\"app_id\":\"game\"}}\n"
    );
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), &lines)
        .await;
    let summary = finished.summary();
    assert_eq!(summary[0], Err(ErrorCode::AlreadyExists));
    assert_eq!(finished.failures()[0]["errors"][0]["details"]["pid"], pid);
    assert!(summary[1].is_ok());
    assert_eq!(summary[2], Err(ErrorCode::DuplicateInPayload));
    assert_eq!(summary[3], Err(ErrorCode::NotFound));
    assert_eq!(stored_app_profiles(&protocol).await, "2");
}

#[tokio::test]
async fn a_record_without_its_app_is_refused_and_a_dry_run_creates_nothing() {
    let (protocol, core) = protocol().await;
    let lines = format!("{{\"core-profile-id\":{core}}}\n");
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), &lines)
        .await;
    assert_eq!(finished.failures()[0]["errors"][0]["field"], "app_id");
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let lines = format!("{{\"core-profile-id\":{core},\"app_id\":\"game\"}}\n");
    let finished = protocol.run_task(CREATE, dry_run, &lines).await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["dry_run"],
        "would_create"
    );
    assert_eq!(stored_app_profiles(&protocol).await, "0");
}
