//! What `update_core_profiles` writes, refuses and reports, over the task protocol with
//! PostgreSQL alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_domain::{CoreProfileId, ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_update_core_profiles::UpdateCoreProfiles;

const UPDATE: TaskAction = TaskAction::UpdateCoreProfiles;

/// A protocol running updates, and one stored profile.
async fn protocol() -> (Protocol, CoreProfileId) {
    let mut protocol = Protocol::start().await;
    protocol.run(UpdateCoreProfiles);
    let ids = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &[
            "{\"identities\":[{\"uid\":\"u1\"}],\"names\":{\"first_name\":\"Ann\"},\"tags\":[\"a\"],\
             \"custom_fields\":{\"plan\":\"pro\",\"seats\":3},\"age\":30}",
        ],
    )
    .await;
    (protocol, ids[0])
}

async fn stored(protocol: &Protocol, id: CoreProfileId) -> serde_json::Value {
    let text = protocol
        .query_text(&format!(
            "SELECT json_build_object('names', names, 'tags', tags, 'custom_fields', \
             custom_fields, 'age', age)::text FROM core_profiles WHERE id = {id}"
        ))
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn present_fields_replace_absent_stay_null_clears_and_maps_merge() {
    let (protocol, id) = protocol().await;
    let line = format!(
        "{{\"core-profile-id\":{id},\"names\":{{\"last_name\":\"Lee\"}},\
         \"custom_fields\":{{\"seats\":null,\"region\":\"eu\"}},\"age\":null}}\n"
    );
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &line)
        .await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["updated_fields"],
        json!(["age", "custom_fields", "names"])
    );
    assert_eq!(
        stored(&protocol, id).await,
        json!({
            "names": {"first_name": "Ann", "last_name": "Lee"},
            "tags": ["a"],
            "custom_fields": {"plan": "pro", "region": "eu"},
            "age": null,
        })
    );
}

#[tokio::test]
async fn an_unknown_profile_or_a_taken_identity_fails_only_that_record() {
    let (protocol, id) = protocol().await;
    let other = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"email\":\"b@x.io\"}]}"],
    )
    .await[0];
    let lines = format!(
        "{{\"core-profile-id\":999999999,\"age\":1}}\n\
         {{\"core-profile-id\":{id},\"identities\":[{{\"email\":\"B@x.io\"}}]}}\n\
         {{\"core-profile-id\":{other},\"tags\":[\"b\"]}}\n"
    );
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &lines)
        .await;
    let summary = finished.summary();
    assert_eq!(summary[0], Err(ErrorCode::NotFound));
    assert_eq!(summary[1], Err(ErrorCode::IdentityConflict));
    assert_eq!(
        summary[2].clone().unwrap()["updated_fields"],
        json!(["tags"])
    );
    assert_eq!(stored(&protocol, id).await["tags"], json!(["a"]));
}

#[tokio::test]
async fn a_record_that_changes_nothing_reports_no_fields_and_a_dry_run_changes_nothing() {
    let (protocol, id) = protocol().await;
    let same = format!("{{\"core-profile-id\":{id},\"tags\":[\"a\"]}}\n");
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &same)
        .await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["updated_fields"],
        json!([])
    );
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let change = format!("{{\"core-profile-id\":{id},\"age\":44}}\n");
    let finished = protocol.run_task(UPDATE, dry_run, &change).await;
    let line = finished.summary()[0].clone().unwrap();
    assert_eq!(line["dry_run"], "would_update");
    assert_eq!(stored(&protocol, id).await["age"], 30);
}

#[tokio::test]
async fn tag_colors_the_task_carries_are_stored_with_its_changes() {
    let (protocol, id) = protocol().await;
    let options = TaskOptions {
        tag_colors: vec![userhub_domain::TagColor {
            tag: "vip".to_owned(),
            color: "#ff0000".to_owned(),
        }],
        ..TaskOptions::default()
    };
    let line = format!("{{\"core-profile-id\":{id},\"tags\":[\"vip\"]}}\n");
    protocol.run_task(UPDATE, options, &line).await;
    let color = protocol
        .query_text("SELECT color FROM tag_colors WHERE tag = 'vip'")
        .await;
    assert_eq!(color.as_deref(), Some("#ff0000"));
}
