//! What the `userhub` binary tells its user and leaves behind: fresh reads, refusals, an
//! unreachable server, an interruption, pacing by the rate limit, paged listings and full statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    first_line_where, read_ndjson, run, spawn_serial_import, split_import, text, userhub, work_dir,
    write_input,
};
use serde_json::{Value, json};
use userhub_tests::TestApp;

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
    let (mut child, mut lines) = spawn_serial_import(&app, &work, "slow.jsonl");
    // Three requests a minute: the limits, then two parts; the third part waits for the window.
    let waiting = first_line_where(&mut lines, |line| line.contains("waiting")).await;
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
    let command = split_import(&app, &work, "paced.jsonl");
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
    let metrics = app.metrics().await;
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
