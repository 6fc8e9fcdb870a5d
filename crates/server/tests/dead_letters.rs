//! Operators list dead-lettered chunks and replay them once the cause is fixed: the task reopens,
//! the chunk applies, and nothing is counted twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use userhub_tests::oracle::{assert_profiles_match, assert_tasks_consistent, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp, dead_letter_depth, settings_env};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

async fn admin(app: &TestApp, args: &[&str]) -> (String, String) {
    let output = tokio::process::Command::new(SERVER)
        .arg("admin")
        .args(args)
        .envs(settings_env(&app.settings))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_chunk_is_listed_and_replayed_after_the_fix() {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 10;
        settings.worker.max_attempts = 2;
    })
    .await;
    app.execute(
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.last_city = 'city-14' THEN RAISE EXCEPTION 'poison record'; END IF; RETURN NEW; END $$",
    )
    .await;
    app.execute("CREATE TRIGGER poison BEFORE INSERT ON core_profiles FOR EACH ROW EXECUTE FUNCTION poison()").await;
    let records = numbered_profiles(0..30);
    let task_id = app.create_task("create_core_profiles", &records).await;
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["failed"], 10, "{status}");

    let (listing, _) = admin(&app, &["dlq", "list"]).await;
    assert!(listing.contains(&task_id.to_string()), "{listing}");
    assert!(listing.contains("poison record"), "{listing}");
    assert_eq!(
        dead_letter_depth(
            &app.settings,
            userhub_domain::TaskAction::CreateCoreProfiles
        )
        .await,
        1,
        "listing removes nothing"
    );

    app.execute("DROP TRIGGER poison ON core_profiles").await;
    let (_, summary) = admin(&app, &["dlq", "replay", "--task", &task_id.to_string()]).await;
    assert!(summary.contains("1 chunks sent back"), "{summary}");
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(30), Some(0)),
        "{status}"
    );
    assert_eq!(status["outcome"], "succeeded");
    assert_eq!(json!(app.errors(task_id).await), json!([]));
    assert_eq!(
        dead_letter_depth(
            &app.settings,
            userhub_domain::TaskAction::CreateCoreProfiles
        )
        .await,
        0
    );
    assert_profiles_match(&app, &records).await;
    assert_tasks_consistent(&app).await;
    app.stop().await;
}
