//! What `upsert_core_profiles` writes, refuses and reports, over the task protocol with
//! PostgreSQL alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_domain::options::MatchBy;
use userhub_domain::{CoreProfileId, IdentityKind, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_upsert_core_profiles::UpsertCoreProfiles;

const UPSERT: TaskAction = TaskAction::UpsertCoreProfiles;

fn by_email() -> TaskOptions {
    TaskOptions {
        match_by: Some(MatchBy::Identity(IdentityKind::Email)),
        ..TaskOptions::default()
    }
}

async fn protocol() -> (Protocol, CoreProfileId) {
    let mut protocol = Protocol::start().await;
    protocol.run(UpsertCoreProfiles);
    let known = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"email\":\"known@x.io\"}],\"age\":20}"],
    )
    .await[0];
    (protocol, known)
}

#[tokio::test]
async fn a_known_key_updates_its_profile_and_an_unknown_one_creates_a_profile() {
    let (protocol, known) = protocol().await;
    let lines = "{\"identities\":[{\"email\":\"KNOWN@x.io\"}],\"age\":21}\n\
                 {\"identities\":[{\"email\":\"new@x.io\"}],\"age\":5}\n";
    let finished = protocol.run_task(UPSERT, by_email(), lines).await;
    let summary = finished.summary();
    let updated = summary[0].clone().unwrap();
    assert_eq!(updated["result"], "updated");
    assert_eq!(updated["core-profile-id"], known.get());
    assert_eq!(updated["updated_fields"], json!(["age"]));
    let created = summary[1].clone().unwrap();
    assert_eq!(created["result"], "created");
    assert_ne!(created["core-profile-id"], known.get());
    let count = protocol
        .query_text("SELECT count(*)::text FROM core_profiles")
        .await;
    assert_eq!(count.as_deref(), Some("2"));
}

#[tokio::test]
async fn records_reaching_one_new_key_across_chunks_create_it_once_and_apply_in_order() {
    let (protocol, _) = protocol().await;
    // Chunks hold three records: the key's records sit in two chunks.
    let lines: String = (1..=5)
        .map(|n| format!("{{\"identities\":[{{\"email\":\"same@x.io\"}}],\"age\":{n}}}\n"))
        .collect();
    let finished = protocol.run_task(UPSERT, by_email(), &lines).await;
    let results: Vec<String> = finished
        .summary()
        .into_iter()
        .map(|outcome| outcome.unwrap()["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        results,
        ["created", "updated", "updated", "updated", "updated"]
    );
    let age = protocol
        .query_text("SELECT age::text FROM core_profiles c JOIN identities i ON i.core_profile_id = c.id WHERE i.value = 'same@x.io'")
        .await;
    assert_eq!(age.as_deref(), Some("5"), "the last record wins");
}

#[tokio::test]
async fn a_record_without_the_match_key_fails_alone_and_a_dry_run_writes_nothing() {
    let (protocol, known) = protocol().await;
    let lines = "{\"identities\":[{\"uid\":\"no-email\"}]}\n\
                 {\"identities\":[{\"email\":\"known@x.io\"}],\"age\":30}\n";
    let dry_run = TaskOptions {
        dry_run: true,
        ..by_email()
    };
    let finished = protocol.run_task(UPSERT, dry_run, lines).await;
    let summary = finished.summary();
    assert!(summary[0].is_err());
    assert_eq!(finished.failures()[0]["errors"][0]["field"], "identities");
    let line = summary[1].clone().unwrap();
    assert_eq!(line["dry_run"], "would_update");
    assert_eq!(line["core-profile-id"], known.get());
    let age = protocol
        .query_text(&format!(
            "SELECT age::text FROM core_profiles WHERE id = {known}"
        ))
        .await;
    assert_eq!(age.as_deref(), Some("20"));
}
