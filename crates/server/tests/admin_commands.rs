//! Operator commands of `userhub-server admin`: domains are listed with their limits and keys;
//! a domain's webhook endpoints are listed and deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use userhub_tests::{Service, TestApp, settings_env};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

async fn admin(app: &TestApp, args: &[&str]) -> String {
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
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn domains_are_listed_with_their_limits_and_keys() {
    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    admin(&app, &["domain", "create", "zz-listed"]).await;
    admin(&app, &["domain", "set-rate-limit", "zz-listed", "120"]).await;
    admin(
        &app,
        &["domain", "set-upload-record-limit", "zz-listed", "5000"],
    )
    .await;
    admin(&app, &["key", "create", "zz-listed", "--read-only"]).await;
    let table = admin(&app, &["domain", "list"]).await;
    let row = table
        .lines()
        .find(|line| line.contains("zz-listed"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[1..7],
        &["zz-listed", "120", "default", "5000", "1", "1"],
        "{row}"
    );
    assert!(
        table.lines().any(|line| line.contains(&app.domain)),
        "the test's own domain is listed too: {table}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_operator_lists_and_deletes_a_domains_webhooks() {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.webhooks.allow_private_targets = true;
    })
    .await;
    for port in [9, 10] {
        let response = app
            .authorized(
                app.client
                    .post(format!("{}/v2/{}/webhooks", app.base_url, app.domain))
                    .json(&serde_json::json!({
                        "url": format!("http://127.0.0.1:{port}/hook"),
                        "events": ["task.completed"],
                    })),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let table = admin(&app, &["webhook", "list", &app.domain]).await;
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains("http://127.0.0.1:9/hook"), "{table}");
    assert!(rows[0].contains("task.completed"), "{table}");
    let first_id = rows[0].split_whitespace().next().unwrap().to_owned();
    admin(&app, &["webhook", "delete", &app.domain, &first_id]).await;
    let table = admin(&app, &["webhook", "list", &app.domain]).await;
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains("127.0.0.1:10/hook"), "{table}");
    admin(&app, &["webhook", "delete", &app.domain, "--all"]).await;
    let left = app
        .query_json("SELECT count(*) AS n FROM webhook_endpoints")
        .await;
    assert_eq!(left[0]["n"], 0);
    // Nothing is deleted without saying what.
    let refused = tokio::process::Command::new(SERVER)
        .args(["admin", "webhook", "delete", &app.domain])
        .envs(settings_env(&app.settings))
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    app.stop().await;
}
