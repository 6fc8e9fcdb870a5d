//! What `update_app_profiles` writes, refuses and reports, over the task protocol with
//! PostgreSQL alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_domain::{ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::{seed_app_profiles, seed_core_profiles};
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_update_app_profiles::UpdateAppProfiles;

const UPDATE: TaskAction = TaskAction::UpdateAppProfiles;

async fn protocol() -> (Protocol, String) {
    let mut protocol = Protocol::start().await;
    protocol.run(UpdateAppProfiles);
    let core = seed_core_profiles(
        protocol.pool(),
        protocol.domain_id(),
        &["{\"identities\":[{\"uid\":\"owner\"}]}"],
    )
    .await[0];
    let record = format!(
        "{{\"core-profile-id\":{core},\"app_id\":\"game\",\"city\":\"Lyon\",\"user_level\":3,\
         \"custom_fields\":{{\"coins\":10,\"boss\":\"troll\"}}}}"
    );
    let domain = protocol.submitter.domain.clone();
    let pid = seed_app_profiles(protocol.pool(), protocol.domain_id(), &domain, &[&record])
        .await
        .remove(0);
    (protocol, pid)
}

async fn stored(protocol: &Protocol, pid: &str) -> serde_json::Value {
    let text = protocol
        .query_text(&format!(
            "SELECT json_build_object('city', city, 'user_level', user_level, \
             'custom_fields', custom_fields)::text FROM app_profiles WHERE pid = '{pid}'"
        ))
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn present_fields_replace_absent_stay_null_clears_and_custom_fields_merge() {
    let (protocol, pid) = protocol().await;
    let lines = format!(
        "{{\"pid\":\"{pid}\",\"city\":null,\"user_level\":4,\"custom_fields\":{{\"coins\":null,\"gems\":1}}}}\n"
    );
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &lines)
        .await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["updated_fields"],
        json!(["city", "custom_fields", "user_level"])
    );
    assert_eq!(
        stored(&protocol, &pid).await,
        json!({"city": null, "user_level": 4, "custom_fields": {"boss": "troll", "gems": 1}})
    );
}

#[tokio::test]
async fn records_of_one_profile_apply_in_input_order_and_an_unknown_pid_fails_alone() {
    let (protocol, pid) = protocol().await;
    let lines = format!(
        "{{\"pid\":\"{pid}\",\"user_level\":5}}\n\
         {{\"pid\":\"nobody_profile_0\",\"city\":\"x\"}}\n\
         {{\"pid\":\"{pid}\",\"user_level\":6}}\n"
    );
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &lines)
        .await;
    let summary = finished.summary();
    assert_eq!(summary[1], Err(ErrorCode::NotFound));
    assert_eq!(finished.failures()[0]["errors"][0]["field"], "pid");
    assert!(summary[0].is_ok() && summary[2].is_ok());
    assert_eq!(stored(&protocol, &pid).await["user_level"], 6);
}

#[tokio::test]
async fn an_invalid_value_is_refused_naming_the_field_and_a_dry_run_changes_nothing() {
    let (protocol, pid) = protocol().await;
    let lines = format!("{{\"pid\":\"{pid}\",\"user_level\":\"high\"}}\n");
    let finished = protocol
        .run_task(UPDATE, TaskOptions::default(), &lines)
        .await;
    assert_eq!(finished.failures()[0]["errors"][0]["field"], "user_level");
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let lines = format!("{{\"pid\":\"{pid}\",\"city\":\"Nice\"}}\n");
    let finished = protocol.run_task(UPDATE, dry_run, &lines).await;
    assert_eq!(
        finished.summary()[0].clone().unwrap()["dry_run"],
        "would_update"
    );
    assert_eq!(stored(&protocol, &pid).await["city"], "Lyon");
}
