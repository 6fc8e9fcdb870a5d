//! The `userhub` binary against a real server (PostgreSQL, RabbitMQ, HTTP): import with
//! splitting, merged results and errors, resuming without duplicates, rate-limit pacing, export,
//! status, wait, tasks, and its configuration sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use userhub_tests::{TestApp, random_hex};

/// `userhub` configured through the environment for the app's domain; the user's own config
/// file is never read.
fn userhub(app: &TestApp, work: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_userhub"));
    command
        .current_dir(work)
        .env("USERHUB_URL", &app.base_url)
        .env("USERHUB_DOMAIN", &app.domain)
        .env("USERHUB_API_KEY", &app.api_key)
        .env("USERHUB_CLI_CONFIG", work.join("no-config.toml"))
        .env_remove("USERHUB_PROFILE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn run(mut command: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("userhub finishes")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("userhub-cli-test-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// 2 500 records over 2 503 lines: a blank line after record 6, record 1 200 is not JSON and
/// record 2 100 has no identities.
fn write_input(path: &Path, prefix: &str) {
    let mut lines = String::new();
    for index in 0..2500 {
        if index == 7 {
            lines.push('\n');
        }
        let line = match index {
            1200 => "{not json".to_owned(),
            2100 => json!({"identities": [], "last_city": "Pune"}).to_string(),
            _ => {
                json!({"identities": [{"uid": format!("{prefix}-{index}")}], "age": 30}).to_string()
            }
        };
        lines.push_str(&line);
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

async fn profile_count(app: &TestApp) -> i64 {
    app.query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn import_splits_by_the_domain_limit_and_merges_results_and_errors() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("profiles.jsonl"), "imp");
    let mut command = userhub(&app, &work);
    command.args([
        "import",
        "--action",
        "create_core_profiles",
        "profiles.jsonl",
    ]);
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
    let mut first = userhub(&app, &work);
    first
        .args([
            "import",
            "--action",
            "create_core_profiles",
            "--concurrency",
            "1",
        ])
        .arg("big.jsonl")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = first.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let uploaded = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("part ") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(uploaded, "the first run uploaded a part");
    child.kill().await.unwrap();
    let after_interruption = app.task_count().await;
    assert!(
        (1..=5).contains(&after_interruption),
        "{after_interruption}"
    );

    let mut second = userhub(&app, &work);
    second.args(["import", "--action", "create_core_profiles", "big.jsonl"]);
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
    let mut third = userhub(&app, &work);
    third.args(["import", "--action", "create_core_profiles", "big.jsonl"]);
    let output = run(third).await;
    assert!(text(&output.stdout).contains("tasks: 5 (5 already uploaded"));
    assert_eq!(app.task_count().await, 5);
    assert_eq!(profile_count(&app).await, 2498);
    app.stop().await;
}

#[tokio::test]
async fn uploads_and_polls_pace_themselves_by_the_rate_limit_headers() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(1000))
        .await
        .unwrap();
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(6))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("paced.jsonl"), "paced");
    let mut command = userhub(&app, &work);
    command.args(["import", "--action", "create_core_profiles", "paced.jsonl"]);
    let output = run(command).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("2498 succeeded, 2 failed"), "{stdout}");
    assert_eq!(app.task_count().await, 3);
    // More requests than one window allows were needed, yet none was refused: the client waited
    // for the window to reset instead.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answered: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("userhub_http_requests_total{") && line.contains("/v2/"))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(answered > 6.0, "{metrics}");
    assert!(
        !metrics
            .lines()
            .any(|line| line.starts_with("userhub_http_requests_total{")
                && line.contains("status=\"429\"")),
        "{metrics}"
    );
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
async fn exports_of_a_file_of_ids_read_afresh_every_run() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "fresh"}], "last_city": "Pune"})],
        )
        .await;
    let id = created[0]["core-profile-id"].clone();
    let work = work_dir();
    std::fs::write(
        work.join("ids.jsonl"),
        format!("{}\n", json!({"core-profile-id": id})),
    )
    .unwrap();
    let export = |app: &TestApp| {
        let mut command = userhub(app, &work);
        command.args(["export", "ids.jsonl"]);
        command
    };
    let first = run(export(&app)).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let out = work.join("ids.jsonl.userhub/results.ndjson");
    assert_eq!(read_ndjson(&out)[0]["last_city"], "Pune");
    app.run_task(
        "update_core_profiles",
        &[json!({"core-profile-id": id, "last_city": "Delhi"})],
    )
    .await;
    let second = run(export(&app)).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert!(
        !text(&second.stdout).contains("already uploaded"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(
        read_ndjson(&out)[0]["last_city"],
        "Delhi",
        "the second run reads afresh"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_client_says_what_a_refusal_or_an_unreachable_server_means() {
    let app = TestApp::spawn().await;
    let work = work_dir();
    write_input(&work.join("in.jsonl"), "refused");
    let mut refused = userhub(&app, &work);
    refused.args(["import", "--action", "create_nothing", "in.jsonl"]);
    let output = run(refused).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("INVALID_ACTION"), "{stderr}");
    assert!(stderr.contains("the server refused part 1"), "{stderr}");
    assert!(
        !stderr.contains("to resume"),
        "a refusal is not resumed: {stderr}"
    );

    let mut nowhere = userhub(&app, &work);
    nowhere
        .env("USERHUB_URL", "http://127.0.0.1:1")
        .args(["status", "1"]);
    let output = run(nowhere).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("cannot reach").count(),
        2,
        "one notice while retrying, then the error: {stderr}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_interrupted_import_says_so_and_leaves_its_parts_listed() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(500))
        .await
        .unwrap();
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(3))
        .await
        .unwrap();
    let work = work_dir();
    write_input(&work.join("slow.jsonl"), "slow");
    let mut command = userhub(&app, &work);
    command
        .args([
            "import",
            "--action",
            "create_core_profiles",
            "--concurrency",
            "1",
        ])
        .arg("slow.jsonl")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Three requests a minute: the limits, then two parts; the third part waits for the window.
    let waiting = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("waiting") {
                return Some(line);
            }
        }
        None
    })
    .await
    .unwrap();
    assert!(waiting.is_some(), "the client says why it waits");
    let pid = child.id().unwrap() as i32;
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(rest.contains("import.json"), "{rest}");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(work.join("slow.jsonl.userhub/import.json")).unwrap(),
    )
    .unwrap();
    let parts = manifest["parts"].as_array().unwrap();
    assert!(!parts.is_empty(), "{manifest}");
    assert_eq!(
        parts[0]["part"], 1,
        "parts are numbered as the progress lines number them"
    );
    app.stop().await;
}

#[tokio::test]
async fn task_listings_page_with_a_cursor_and_status_shows_every_timestamp() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        app.run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": format!("page-{n}")}]})],
        )
        .await;
    }
    let work = work_dir();
    let mut first = userhub(&app, &work);
    first.args(["tasks", "--limit", "2"]);
    let output = run(first).await;
    let listing = text(&output.stdout);
    let cursor = listing
        .lines()
        .find_map(|line| line.strip_prefix("(more: userhub tasks --cursor "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{listing}"))
        .to_owned();
    let mut next = userhub(&app, &work);
    next.args(["tasks", "--limit", "2", "--cursor", &cursor]);
    let output = run(next).await;
    let page = text(&output.stdout);
    assert_eq!(page.lines().count(), 2, "header and the third task: {page}");
    let task_id = page
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut status = userhub(&app, &work);
    status.args(["status", &task_id]);
    let shown: Value = serde_json::from_slice(&run(status).await.stdout).unwrap();
    for field in ["created_at", "started_at", "completed_at"] {
        assert!(shown[field].is_string(), "{field}: {shown}");
    }
    assert!(
        shown
            .as_object()
            .unwrap()
            .values()
            .all(|value| !value.is_null()),
        "no nulls: {shown}"
    );
    app.stop().await;
}
