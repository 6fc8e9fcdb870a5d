//! `userhub import` of a file over the per-task limit as one resumable upload and one task,
//! against a real server: merged results with the file's numbering, and an interrupted upload
//! resumed from the server's offset by the next run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{profile_count, read_ndjson, run, text, userhub, work_dir, write_input};
use serde_json::{Value, json};
use userhub_tests::TestApp;

async fn one_task_import(app: &TestApp, work: &std::path::Path) -> (String, String) {
    let mut command = userhub(app, work);
    command.args(["import", "--action", "create_core_profiles", "big.jsonl"]);
    let output = run(command).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("records: 2500: 2498 succeeded, 2 failed"),
        "{stdout}"
    );
    (stdout, stderr)
}

#[tokio::test]
async fn a_file_over_the_task_limit_goes_up_whole_as_one_task() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("big.jsonl"), "whole");
    let (_, stderr) = one_task_import(&app, &work).await;
    assert!(stderr.contains("in one task of 2500 records"), "{stderr}");
    assert_eq!(app.task_count().await, 1, "one file, one task");
    let out = work.join("big.jsonl.userhub");
    let results = read_ndjson(&out.join("results.ndjson"));
    assert_eq!(results.len(), 2498);
    let late = results.iter().find(|r| r["index"] == 1999).unwrap();
    assert_eq!(late["line"], 2001, "the file's line numbers");
    assert_eq!(late["identities"][0]["uid"], "whole-1999");
    let errors = read_ndjson(&out.join("errors.ndjson"));
    assert_eq!(
        (errors[0]["index"].as_u64(), errors[0]["line"].as_u64()),
        (Some(1200), Some(1202))
    );
    assert_eq!(errors[1]["errors"][0]["code"], "EMPTY_DATA");
    assert_eq!(profile_count(&app).await, 2498);

    // Running it again finds the same task.
    let (stdout, _) = one_task_import(&app, &work).await;
    assert!(stdout.contains("already uploaded"), "{stdout}");
    assert_eq!(app.task_count().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_interrupted_upload_resumes_from_the_server_s_offset() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    let work = work_dir();
    let file = work.join("big.jsonl");
    write_input(&file, "resumed");
    let bytes = std::fs::read(&file).unwrap();

    // An earlier run created the upload and sent the first 40 000 bytes before it was stopped.
    let upload_id = app
        .begin_upload(bytes.len(), &[("filename", "big.jsonl")], &bytes[..40_000])
        .await;
    let location = format!("/v2/{}/uploads/{upload_id}", app.domain);
    let modified = std::fs::metadata(&file)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = work.join("big.jsonl.userhub");
    std::fs::create_dir_all(&out).unwrap();
    let state = json!({
        "file": "big.jsonl",
        "length": bytes.len(),
        "modified": modified,
        "url": format!("{}{location}", app.base_url),
    });
    std::fs::write(out.join("upload.json"), state.to_string()).unwrap();

    let (_, stderr) = one_task_import(&app, &work).await;
    assert!(
        stderr.contains("resuming the upload at byte 40000"),
        "{stderr}"
    );
    let uploads: Value = app.query_json("SELECT id, task_id FROM uploads").await;
    let uploads = uploads.as_array().unwrap();
    assert_eq!(
        uploads.len(),
        1,
        "the earlier upload was finished, not begun again"
    );
    assert!(location.ends_with(uploads[0]["id"].as_str().unwrap()));
    assert!(uploads[0]["task_id"].is_i64(), "{uploads:?}");
    assert_eq!(app.task_count().await, 1);
    assert_eq!(profile_count(&app).await, 2498);
    app.stop().await;
}

#[tokio::test]
async fn a_json_array_over_the_task_limit_goes_up_whole_too() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    let work = work_dir();
    let elements: Vec<String> = (0..1500)
        .map(|n| json!({"identities": [{"uid": format!("arr-{n}")}], "age": 40}).to_string())
        .collect();
    std::fs::write(
        work.join("people.json"),
        format!("[\n{}\n]\n", elements.join(",\n")),
    )
    .unwrap();
    let mut command = userhub(&app, &work);
    command.args(["import", "--action", "create_core_profiles", "people.json"]);
    let output = run(command).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("in one task of 1500 records"), "{stderr}");
    assert_eq!(app.task_count().await, 1);
    let results = read_ndjson(&work.join("people.json.userhub/results.ndjson"));
    assert_eq!(results.len(), 1500);
    let last = &results[1499];
    assert_eq!(
        (last["index"].as_u64(), last["line"].as_u64()),
        (Some(1499), Some(1501))
    );
    assert_eq!(last["identities"][0]["uid"], "arr-1499");
    assert_eq!(profile_count(&app).await, 1500);
    app.stop().await;
}
