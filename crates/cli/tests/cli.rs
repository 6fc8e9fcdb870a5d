//! The `userhub` binary against a real server (PostgreSQL, RabbitMQ, HTTP): import with
//! splitting, merged results and errors, resuming without duplicates, export, status, wait,
//! tasks, and its configuration sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    first_line_where, profile_count, read_ndjson, run, spawn_serial_import, split_import, text,
    userhub, work_dir, write_input,
};
use serde_json::{Value, json};
use userhub_tests::TestApp;

#[tokio::test]
async fn import_splits_by_the_domain_limit_and_merges_results_and_errors() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("profiles.jsonl"), "imp");
    let command = split_import(&app, &work, "profiles.jsonl");
    let output = run(command).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "record errors give exit code 3\n{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("records: 2500: 2498 succeeded, 2 failed"),
        "{stdout}"
    );

    let out = work.join("profiles.jsonl.userhub");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("import.json")).unwrap()).unwrap();
    let parts = manifest["parts"].as_array().unwrap();
    let sizes: Vec<u64> = parts
        .iter()
        .map(|p| p["records"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![1000, 1000, 500]);
    assert_eq!(app.task_count().await, 3);

    let results = read_ndjson(&out.join("results.ndjson"));
    assert_eq!(results.len(), 2498);
    let indexes: Vec<u64> = results
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..2500).filter(|i| *i != 1200 && *i != 2100).collect();
    assert_eq!(
        indexes, expected,
        "results in input order with the file's indexes"
    );
    // Line numbers are the file's: record 1 999 is on line 2 001 (one blank line before it).
    let late = results.iter().find(|r| r["index"] == 1999).unwrap();
    assert_eq!(late["line"], 2001);
    assert_eq!(late["identities"][0]["uid"], "imp-1999");
    assert_eq!(late["task_id"], parts[1]["task_id"]);

    let errors = read_ndjson(&out.join("errors.ndjson"));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["index"], 1200);
    assert_eq!(errors[0]["line"], 1202);
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_JSON");
    assert_eq!(errors[1]["index"], 2100);
    assert_eq!(errors[1]["errors"][0]["code"], "EMPTY_DATA");
    assert_eq!(errors[1]["task_id"], parts[2]["task_id"]);
    assert_eq!(profile_count(&app).await, 2498);
    app.stop().await;
}

#[tokio::test]
async fn rerunning_an_interrupted_import_creates_no_task_twice() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(500))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("big.jsonl"), "resume");

    // Interrupt the first run once a part is uploaded.
    let (mut child, mut lines) = spawn_serial_import(&app, &work, "big.jsonl");
    let uploaded = first_line_where(&mut lines, |line| line.starts_with("part ")).await;
    assert!(uploaded.is_some(), "the first run uploaded a part");
    child.kill().await.unwrap();
    let after_interruption = app.task_count().await;
    assert!(
        (1..=5).contains(&after_interruption),
        "{after_interruption}"
    );

    let second = split_import(&app, &work, "big.jsonl");
    let output = run(second).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("already uploaded by an earlier run"),
        "{stdout}"
    );
    assert_eq!(app.task_count().await, 5, "5 parts, each a task once");
    assert!(
        stdout.contains("records: 2500: 2498 succeeded, 2 failed"),
        "{stdout}"
    );

    // A third run changes nothing: every part is found again.
    let third = split_import(&app, &work, "big.jsonl");
    let output = run(third).await;
    assert!(text(&output.stdout).contains("tasks: 5 (5 already uploaded"));
    assert_eq!(app.task_count().await, 5);
    assert_eq!(profile_count(&app).await, 2498);
    app.stop().await;
}

#[tokio::test]
async fn export_status_wait_and_tasks() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..5)
        .map(|n| json!({"identities": [{"email": format!("export{n}@example.com")}]}))
        .collect();
    let (status, _, _) = app.run_task("create_core_profiles", &records).await;
    assert_eq!(status["succeeded"], 5);
    let work = work_dir();

    let mut export = userhub(&app, &work);
    export.args(["export", "--all", "--out", "everything"]);
    let output = run(export).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let exported = read_ndjson(&work.join("everything/results.ndjson"));
    assert_eq!(exported.len(), 5);
    assert!(exported.iter().all(|profile| {
        profile["identities"][0]["email"]
            .as_str()
            .unwrap()
            .starts_with("export")
    }));

    let mut one = userhub(&app, &work);
    one.args([
        "export",
        "--identity",
        "email=EXPORT3@example.com",
        "--out",
        "one",
    ]);
    let output = run(one).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let found = read_ndjson(&work.join("one/results.ndjson"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["identities"][0]["email"], "export3@example.com");

    let task_id = app
        .create_task("create_core_profiles", &[json!({"identities": []})])
        .await;
    let mut wait = userhub(&app, &work);
    wait.args(["wait", &task_id.to_string()]);
    let output = run(wait).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "a failed record: exit code 3"
    );
    assert!(text(&output.stdout).contains("0 succeeded, 1 failed"));

    let mut status = userhub(&app, &work);
    status.args(["status", &task_id.to_string()]);
    let output = run(status).await;
    assert_eq!(output.status.code(), Some(0));
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["task_id"], task_id);
    assert_eq!(shown["state"], "completed");
    assert_eq!(shown["outcome"], "failed");

    let mut tasks = userhub(&app, &work);
    tasks.args(["tasks", "--limit", "10"]);
    let output = run(tasks).await;
    let listing = text(&output.stdout);
    assert!(listing.contains(&task_id.to_string()), "{listing}");
    assert_eq!(
        listing.lines().count(),
        1 + 4,
        "header and four tasks: {listing}"
    );

    let mut missing = userhub(&app, &work);
    missing.args(["status", "7"]);
    let output = run(missing).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("TASK_NOT_FOUND"));
    app.stop().await;
}

#[tokio::test]
async fn configuration_comes_from_flags_environment_or_a_profile() {
    let app = TestApp::spawn().await;
    let work = work_dir();
    let config = work.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.ci]\nurl = \"{}\"\ndomain = \"{}\"\napi_key = \"{}\"\n",
            app.base_url, app.domain, app.api_key
        ),
    )
    .unwrap();
    // Only the profile file: works.
    let mut from_profile = tokio::process::Command::new(env!("CARGO_BIN_EXE_userhub"));
    from_profile.current_dir(&work).env_clear().args([
        "--config",
        "config.toml",
        "--profile",
        "ci",
        "tasks",
    ]);
    let output = run(from_profile).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // A flag wins over the environment: a wrong key in the environment is overridden.
    let mut flag_wins = userhub(&app, &work);
    flag_wins
        .env("USERHUB_API_KEY", "uh_wrong_key")
        .args(["--api-key", &app.api_key, "tasks"]);
    assert_eq!(run(flag_wins).await.status.code(), Some(0));

    // The environment wins over the profile.
    let mut env_wins = userhub(&app, &work);
    env_wins.env("USERHUB_API_KEY", "uh_wrong_key").args([
        "--config",
        "config.toml",
        "--profile",
        "ci",
        "tasks",
    ]);
    let output = run(env_wins).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("401 UNAUTHORIZED"),
        "{}",
        text(&output.stderr)
    );

    // Bad input files are clear errors and create nothing.
    std::fs::write(
        work.join("broken.json"),
        "[{\"identities\": [{\"uid\": \"a\"}]}, {",
    )
    .unwrap();
    for (file, message) in [
        ("missing.jsonl", "cannot read missing.jsonl"),
        ("broken.json", "is not a JSON array of records"),
    ] {
        let mut import = userhub(&app, &work);
        import.args(["import", "--action", "create_core_profiles", file]);
        let output = run(import).await;
        assert_eq!(output.status.code(), Some(1));
        assert!(
            text(&output.stderr).contains(message),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn an_upsert_import_passes_its_options_and_keys_them_apart() {
    let app = TestApp::spawn().await;
    let work = work_dir();
    let first: String = (0..3)
        .map(|n| {
            format!(
                "{}\n",
                json!({"identities": [{"email": format!("p{n}@example.com")}], "age": 20})
            )
        })
        .collect();
    std::fs::write(work.join("people.jsonl"), &first).unwrap();
    let upsert = |extra: &[&str]| {
        let mut command = userhub(&app, &work);
        command.args(["import", "--action", "upsert_core_profiles", "people.jsonl"]);
        command.args(extra);
        command
    };
    let output = run(upsert(&["--match-by", "email"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let results = read_ndjson(&work.join("people.jsonl.userhub/results.ndjson"));
    assert!(
        results.iter().all(|r| r["result"] == "created"),
        "{results:?}"
    );

    // The same file with other options is another request: a new task, matched as updates.
    let output = run(upsert(&[
        "--match-by",
        "email",
        "--skip-triggers",
        "--workflow-id",
        "7",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let results = read_ndjson(&work.join("people.jsonl.userhub/results.ndjson"));
    assert!(
        results.iter().all(|r| r["result"] == "updated"),
        "{results:?}"
    );
    assert_eq!(app.task_count().await, 2);
    let options = app
        .query_json("SELECT options FROM tasks ORDER BY created_at")
        .await;
    assert_eq!(options[0]["options"], json!({"match_by": "email"}));
    assert_eq!(
        options[1]["options"],
        json!({"match_by": "email", "skip_triggers": true, "workflow_id": 7})
    );

    // Without --match-by the server's clear error reaches the user.
    let output = run(upsert(&[])).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert!(
        text(&output.stderr).contains("INVALID_OPTION"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(profile_count(&app).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_queued_task_and_refuses_a_completed_one() {
    let app = TestApp::spawn_service(userhub_tests::Service::Api, |_| {}).await;
    let records: Vec<Value> = (0..3)
        .map(|n| json!({"identities": [{"uid": format!("cancel-cli-{n}")}]}))
        .collect();
    let task_id = app.create_task("create_core_profiles", &records).await;
    let work = work_dir();
    let mut cancel = userhub(&app, &work);
    cancel.args(["cancel", &task_id.to_string()]);
    let output = run(cancel).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["task_id"], task_id);
    assert!(answer["cancel_requested_at"].is_string(), "{answer}");
    let status = app.status(task_id).await;
    assert_eq!(status["cancel_requested_at"], answer["cancel_requested_at"]);

    // A completed task cannot be canceled: the server's 409 is shown, exit code 1.
    app.execute(&format!(
        "UPDATE tasks SET state = 'completed', outcome = 'succeeded' WHERE id = {task_id}"
    ))
    .await;
    let mut again = userhub(&app, &work);
    again.args(["cancel", &task_id.to_string()]);
    let output = run(again).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("TASK_COMPLETED"),
        "{}",
        text(&output.stderr)
    );
    app.stop().await;
}

/// `userhub import` of `dry.jsonl` as creates, as a dry run or for real.
async fn import_dry_jsonl(
    app: &TestApp,
    work: &std::path::Path,
    dry_run: bool,
) -> std::process::Output {
    let mut command = userhub(app, work);
    command.args(["import", "--action", "create_core_profiles"]);
    if dry_run {
        command.arg("--dry-run");
    }
    command.arg("dry.jsonl");
    run(command).await
}

#[tokio::test]
async fn a_dry_run_import_writes_nothing_and_reports_what_would_happen() {
    let app = TestApp::spawn().await;
    let work = work_dir();
    let lines = [
        json!({"identities": [{"uid": "dry-1"}], "age": 20}),
        json!({"identities": [], "age": 1}),
    ]
    .iter()
    .map(|line| format!("{line}\n"))
    .collect::<String>();
    std::fs::write(work.join("dry.jsonl"), lines).unwrap();
    let output = import_dry_jsonl(&app, &work, true).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let results = read_ndjson(&work.join("dry.jsonl.userhub/results.ndjson"));
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["dry_run"], "would_create");
    assert_eq!(results[0]["line"], 1);
    let errors = read_ndjson(&work.join("dry.jsonl.userhub/errors.ndjson"));
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(profile_count(&app).await, 0, "nothing was written");
    let options = app.query_json("SELECT options FROM tasks").await;
    assert_eq!(options[0]["options"], json!({"dry_run": true}));

    // The real run of the same file really runs...
    let output = import_dry_jsonl(&app, &work, false).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(profile_count(&app).await, 1, "the real run wrote");
    // ...and a dry run after it judges the data as it is now: uid dry-1 exists.
    let output = import_dry_jsonl(&app, &work, true).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let results = read_ndjson(&work.join("dry.jsonl.userhub/results.ndjson"));
    assert!(results.is_empty(), "no longer would_create: {results:?}");
    let errors = read_ndjson(&work.join("dry.jsonl.userhub/errors.ndjson"));
    assert_eq!(errors[0]["line"], 1, "{errors:?}");
    assert_eq!(profile_count(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn retry_makes_a_child_task_of_the_failed_records() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app
        .run_task(
            "update_core_profiles",
            &[
                json!({"core-profile-id": 999, "age": 3}),
                json!({"core-profile-id": 998, "age": "x"}),
            ],
        )
        .await;
    let parent = status["task_id"].as_u64().unwrap();
    let mut command = userhub(&app, &work_dir());
    command.args(["retry", &parent.to_string()]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["parent_task_id"], parent);
    assert_eq!(
        answer["total"], 1,
        "NOT_FOUND is retryable, a bad value is not"
    );

    let mut command = userhub(&app, &work_dir());
    command.args(["retry", "--all-failed", &parent.to_string()]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["total"], 2);
    app.stop().await;
}

#[tokio::test]
async fn revert_makes_a_task_undoing_a_create_and_refuses_a_second_one() {
    let app = TestApp::spawn().await;
    let (status, results, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "cli-revert-1"}]}),
                json!({"identities": [{"uid": "cli-revert-2"}]}),
            ],
        )
        .await;
    assert_eq!(results.len(), 2);
    let parent = status["task_id"].as_u64().unwrap();
    let mut command = userhub(&app, &work_dir());
    command.args(["revert", &parent.to_string()]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["parent_task_id"], parent);
    assert_eq!(answer["total"], 2);
    let revert = answer["task_id"].as_u64().unwrap();
    let done = app.wait_completed(revert).await;
    assert_eq!(done["succeeded"], 2, "{done}");
    assert_eq!(profile_count(&app).await, 0, "both profiles are gone");

    let mut command = userhub(&app, &work_dir());
    command.args(["revert", &parent.to_string()]);
    let output = run(command).await;
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output.stderr).contains("ALREADY_REVERTED"),
        "{}",
        text(&output.stderr)
    );
    app.stop().await;
}

#[tokio::test]
async fn an_import_passes_record_versions_through_and_reports_stale_ones() {
    let app = TestApp::spawn().await;
    let work = work_dir();
    // A change stream replayed out of order: version 3 arrives after version 5.
    let changes: String = [(1, 20), (5, 50), (3, 30)]
        .iter()
        .map(|(version, age)| {
            format!(
                "{}\n",
                json!({"identities": [{"email": "cdc@example.com"}], "age": age, "version": version})
            )
        })
        .collect();
    std::fs::write(work.join("changes.jsonl"), &changes).unwrap();
    let mut command = userhub(&app, &work);
    command.args([
        "import",
        "--action",
        "upsert_core_profiles",
        "--match-by",
        "email",
        "changes.jsonl",
    ]);
    let output = run(command).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "some records failed: {}",
        text(&output.stderr)
    );
    let errors = read_ndjson(&work.join("changes.jsonl.userhub/errors.ndjson"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["errors"][0]["code"], "STALE_VERSION");
    assert_eq!(
        errors[0]["errors"][0]["details"],
        json!({"version": 3, "stored_version": 5})
    );
    let stored = app
        .query_json("SELECT age, version FROM core_profiles")
        .await;
    assert_eq!(stored, json!([{"age": 50, "version": 5}]));
    app.stop().await;
}
