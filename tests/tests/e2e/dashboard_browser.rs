//! The operator dashboard in a real browser (Debian's chromium driven by playwright-core): login
//! with the operator token, a queued task and its queue depth, hostile text shown as text, then
//! the task moving to 100 % once workers start, an upload's progress and the task it becomes, the
//! throughput chart, and a screenshot saved to `test-artifacts/dashboard.png`; and an operator
//! canceling a queued task from the page.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskAction;
use userhub_tests::oracle::numbered_profiles;
use userhub_tests::{Service, TestApp};

const TOKEN: &str = "operator-token-for-browser-tests";
const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A domain and a stalled task whose texts are markup, as if written by an older release.
async fn insert_hostile_stalled_task(app: &TestApp) -> i64 {
    let client = app.pool.get().await.unwrap();
    let domain: i64 = client
        .query_one(
            "INSERT INTO domains (name) VALUES ($1) RETURNING id",
            &[&HOSTILE],
        )
        .await
        .unwrap()
        .get(0);
    let task_id: i64 = 1_000_000_000_000_001;
    client
        .execute(
            "INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total,
                                started_at, stalled_since, stall_reason)
             VALUES ($1, $2, 'create_core_profiles', 'processing', 'json', 10, 1,
                     now(), now(), $3)",
            &[&task_id, &domain, &HOSTILE],
        )
        .await
        .unwrap();
    task_id
}

/// A JSONL file of exactly 100 bytes (one record padded with spaces).
fn hundred_byte_file() -> Vec<u8> {
    let mut line = br#"{"identities":[{"uid":"dashboard-upload"}]}"#.to_vec();
    line.resize(99, b' ');
    line.push(b'\n');
    line
}

/// An upload of [`hundred_byte_file`] holding its first 40 bytes; its id.
async fn begin_upload(app: &TestApp) -> String {
    let metadata = [("filename", "people.jsonl")];
    app.begin_upload(100, &metadata, &hundred_byte_file()[..40])
        .await
}

/// Sends the rest of the upload and makes a task of it.
async fn finish_upload(app: &TestApp, upload_id: &str) {
    let url = format!("{}/v2/{}/uploads/{upload_id}", app.base_url, app.domain);
    let patched = app
        .client
        .patch(url)
        .bearer_auth(&app.api_key)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "40")
        .header("content-type", "application/offset+octet-stream")
        .body(hundred_byte_file()[40..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 204);
    let created = app
        .authorized(app.client.post(app.tasks_url()))
        .json(&serde_json::json!({"action": "create_core_profiles", "upload_id": upload_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

#[tokio::test]
async fn the_dashboard_shows_a_task_moving_in_chromium() {
    let script = workspace().join("tests/js/dashboard.mjs");
    assert!(
        workspace()
            .join("tests/js/node_modules/playwright-core")
            .exists(),
        "playwright-core is missing: run `bash scripts/test-tools.sh` (make test does)"
    );
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.ops.operator_token = Some(TOKEN.to_owned());
    })
    .await;
    let hostile_task = insert_hostile_stalled_task(&app).await;
    let task_id = app
        .create_task("create_core_profiles", &numbered_profiles(0..3000))
        .await;
    let upload_id = begin_upload(&app).await;

    let artifacts = workspace().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut browser = tokio::process::Command::new("node")
        .arg(&script)
        .env("BASE_URL", &app.base_url)
        .env("OPERATOR_TOKEN", TOKEN)
        .env("TASK_ID", task_id.to_string())
        .env("HOSTILE_TEXT", HOSTILE)
        .env("SCREENSHOT", &screenshot)
        .env("UPLOAD_ID", &upload_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "READY" {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if !ready {
        let output = browser.wait_with_output().await.unwrap();
        panic!(
            "the page did not show the queued task:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Retire the hand-made task (no worker should see it), then start the workers.
    app.execute(&format!(
        "UPDATE tasks SET state = 'completed', outcome = 'failed', completed_at = now(),
                stalled_since = NULL WHERE id = {hostile_task}"
    ))
    .await;
    finish_upload(&app, &upload_id).await;
    let worker_stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker = tokio::spawn(userhub_server::run_worker(
        app.settings.clone(),
        TaskAction::CreateCoreProfiles,
        listener,
        worker_stop.clone(),
    ));

    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let output = tokio::time::timeout(Duration::from_secs(120), browser.wait_with_output())
        .await
        .expect("the browser script ends")
        .unwrap();
    assert!(
        output.status.success() && rest.contains("PASSED"),
        "the dashboard test failed:\n{rest}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(&screenshot).expect("a screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.len() > 10_000, "the screenshot holds a rendered page");

    worker_stop.cancel();
    worker.await.unwrap().unwrap();
    app.stop().await;
}

#[tokio::test]
async fn an_operator_cancels_a_queued_task_from_the_dashboard() {
    let script = workspace().join("tests/js/dashboard_cancel.mjs");
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.ops.operator_token = Some(TOKEN.to_owned());
    })
    .await;
    let task_id = app
        .create_task("create_core_profiles", &numbered_profiles(0..1500))
        .await;
    let dry_run_id = app
        .create_task_with(
            "create_core_profiles",
            serde_json::json!({"dry_run": true}),
            &numbered_profiles(0..10),
        )
        .await;
    // The dry run also stands for a retry of the first task (a retry needs the first to have
    // completed, which it cannot here without workers).
    app.execute(&format!(
        "UPDATE tasks SET parent_task_id = {task_id} WHERE id = {dry_run_id}"
    ))
    .await;
    // A third task stands for a revert of the first (made here by hand, as a revert needs the
    // first to have completed).
    let revert_id = app
        .create_task("create_core_profiles", &numbered_profiles(10..12))
        .await;
    app.execute(&format!(
        "UPDATE tasks SET parent_task_id = {task_id}, action = 'revert_profiles' \
          WHERE id = {revert_id}"
    ))
    .await;
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(&script)
            .env("BASE_URL", &app.base_url)
            .env("OPERATOR_TOKEN", TOKEN)
            .env("TASK_ID", task_id.to_string())
            .env("DRY_RUN_TASK_ID", dry_run_id.to_string())
            .env("REVERT_TASK_ID", revert_id.to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser script ends")
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("PASSED"),
        "the dashboard cancel failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(app.status(task_id).await["cancel_requested_at"].is_string());

    // The workers then complete it as canceled: nothing applied.
    let worker_stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker = tokio::spawn(userhub_server::run_worker(
        app.settings.clone(),
        TaskAction::CreateCoreProfiles,
        listener,
        worker_stop.clone(),
    ));
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["outcome"], "canceled", "{status}");
    assert_eq!(status["failed"], 1500);
    worker_stop.cancel();
    worker.await.unwrap().unwrap();
    app.stop().await;
}
