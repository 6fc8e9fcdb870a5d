//! What `create_core_profiles` writes, refuses and reports, over the task protocol with
//! PostgreSQL alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_domain::{ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_create_core_profiles::CreateCoreProfiles;

const CREATE: TaskAction = TaskAction::CreateCoreProfiles;

async fn protocol() -> Protocol {
    let mut protocol = Protocol::start().await;
    protocol.run(CreateCoreProfiles);
    protocol
}

async fn stored_profiles(protocol: &Protocol) -> String {
    protocol
        .query_text("SELECT count(*)::text FROM core_profiles")
        .await
        .unwrap()
}

#[tokio::test]
async fn each_record_becomes_a_profile_with_its_identities_and_fields() {
    let protocol = protocol().await;
    let lines = "{\"identities\":[{\"uid\":\"u1\"},{\"email\":\"Ann@Example.io\"}],\"names\":{\"first_name\":\"Ann\"},\"age\":31}\n\
                 {\"identities\":[{\"phone_number\":\"+4915112345678\"}],\"tags\":[\"vip\"]}\n";
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), lines)
        .await;
    let summary = finished.summary();
    let first = summary[0].clone().unwrap();
    let id = first["core-profile-id"].as_i64().unwrap();
    assert_eq!(
        first["identities"],
        json!([{"uid": "u1"}, {"email": "Ann@Example.io"}]),
        "identities are reported as sent"
    );
    assert!(summary[1].is_ok());
    assert_eq!(stored_profiles(&protocol).await, "2");
    let stored = protocol
        .query_text(&format!(
            "SELECT names->>'first_name' || '/' || age FROM core_profiles WHERE id = {id}"
        ))
        .await;
    assert_eq!(stored.as_deref(), Some("Ann/31"));
}

#[tokio::test]
async fn an_identity_another_profile_owns_or_an_earlier_record_adds_fails_only_that_record() {
    let protocol = protocol().await;
    seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"taken\"}]}"],
    )
    .await;
    let lines = "{\"identities\":[{\"uid\":\"taken\"}]}\n\
                 {\"identities\":[{\"email\":\"a@x.io\"}]}\n\
                 {\"identities\":[{\"email\":\"A@X.io\"}]}\n\
                 {\"identities\":[{\"uid\":\"free\"}]}\n";
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), lines)
        .await;
    let codes: Vec<Option<ErrorCode>> = finished
        .summary()
        .into_iter()
        .map(|outcome| outcome.err())
        .collect();
    assert_eq!(
        codes,
        [
            Some(ErrorCode::IdentityConflict),
            None,
            Some(ErrorCode::DuplicateInPayload),
            None
        ]
    );
    assert_eq!(
        stored_profiles(&protocol).await,
        "3",
        "the seed and two new"
    );
}

#[tokio::test]
async fn a_record_with_invalid_fields_is_refused_naming_the_field() {
    let protocol = protocol().await;
    let lines = "{\"identities\":[{\"email\":\"not an address\"}]}\n\
                 {\"identities\":[{\"uid\":\"ok\"}],\"age\":\"old\"}\n\
                 {\"identities\":[{\"uid\":\"fine\"}]}\n";
    let finished = protocol
        .run_task(CREATE, TaskOptions::default(), lines)
        .await;
    let failures = finished.failures();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["errors"][0]["field"], "identities[0].email");
    assert_eq!(failures[1]["errors"][0]["field"], "age");
    assert_eq!(stored_profiles(&protocol).await, "1");
}

#[tokio::test]
async fn a_dry_run_creates_nothing_and_says_it_would_create() {
    let protocol = protocol().await;
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let finished = protocol
        .run_task(CREATE, dry_run, "{\"identities\":[{\"uid\":\"u\"}]}\n")
        .await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["dry_run"],
        "would_create"
    );
    assert_eq!(stored_profiles(&protocol).await, "0");
}
