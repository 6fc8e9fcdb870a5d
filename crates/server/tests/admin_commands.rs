//! Operator commands of `userhub-server admin`: domains are listed with their limits and keys.
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
    admin(&app, &["key", "create", "zz-listed", "--read-only"]).await;
    let table = admin(&app, &["domain", "list"]).await;
    let row = table
        .lines()
        .find(|line| line.contains("zz-listed"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[1..6],
        &["zz-listed", "120", "default", "1", "1"],
        "{row}"
    );
    assert!(
        table.lines().any(|line| line.contains(&app.domain)),
        "the test's own domain is listed too: {table}"
    );
    app.stop().await;
}
