//! The operator dashboard's data endpoint and page: token required, cross-domain tasks with
//! progress, throughput, queue depths and stalled tasks; a strict content security policy.

use serde_json::Value;
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_records;

const TOKEN: &str = "operator-token-for-tests";

async fn overview(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/ops/api/overview", app.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_overview_needs_the_operator_token() {
    let app = TestApp::spawn_with(|settings| {
        settings.ops.operator_token = Some(TOKEN.to_owned());
    })
    .await;
    let missing = overview(&app, None).await;
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    assert_eq!(
        overview(&app, Some("operator-token-for-test"))
            .await
            .status(),
        401
    );
    // A domain's API key is not an operator token.
    assert_eq!(overview(&app, Some(&app.api_key)).await.status(), 401);
    assert_eq!(overview(&app, Some(TOKEN)).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn without_a_configured_token_the_dashboard_is_disabled() {
    let app = TestApp::spawn().await;
    let response = overview(&app, Some("anything-at-all-here")).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "DASHBOARD_DISABLED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("USERHUB__OPS__OPERATOR_TOKEN")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_overview_shows_tasks_of_every_domain_throughput_and_queues() {
    let app = TestApp::spawn_with(|settings| {
        settings.ops.operator_token = Some(TOKEN.to_owned());
    })
    .await;
    let (status, _, _) = app.run_task("create_core_profiles", &seed_records()).await;
    assert_eq!(status["succeeded"], 3);
    let other_domain = format!("{}-other", app.domain);
    let other_key = app.create_domain_with_key(&other_domain, false).await;
    let response = app
        .client
        .post(format!(
            "{}/v2/{other_domain}/identity/bulk_actions",
            app.base_url
        ))
        .bearer_auth(&other_key)
        .json(&serde_json::json!({
            "action": "create_core_profiles",
            "payload": [{"identities": [{"uid": "other-1"}]}, {"identities": []}],
            "dry_run": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let other_task: Value = response.json().await.unwrap();
    let other_id = other_task["task_id"].as_u64().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let body = loop {
        let body: Value = overview(&app, Some(TOKEN)).await.json().await.unwrap();
        let done = body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|task| task["task_id"] == other_id && task["state"] == "completed");
        if done {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let tasks = body["tasks"].as_array().unwrap();
    let domains: Vec<&str> = tasks
        .iter()
        .map(|task| task["domain"].as_str().unwrap())
        .collect();
    assert!(domains.contains(&app.domain.as_str()), "{body}");
    assert!(domains.contains(&other_domain.as_str()), "{body}");
    let other = tasks
        .iter()
        .find(|task| task["task_id"] == other_id)
        .unwrap();
    assert_eq!(other["state"], "completed");
    assert_eq!(other["progress_percentage"], 100);
    assert_eq!(other["succeeded"], 1);
    assert_eq!(other["failed"], 1);
    assert_eq!(other["dry_run"], true, "the dashboard marks dry runs");
    let own = tasks
        .iter()
        .find(|task| task["domain"] == app.domain.as_str())
        .unwrap();
    assert!(own.get("dry_run").is_none(), "{own}");
    assert_eq!(body["open_tasks"], 0);
    assert_eq!(body["stalled_tasks"], 0);
    assert_eq!(body["broker"], "up");

    // Every processed record is counted once in the throughput buckets.
    let points = body["throughput"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 90, "15 minutes of 10-second buckets");
    let committed: i64 = points.iter().map(|point| point[1].as_i64().unwrap()).sum();
    assert_eq!(committed, 5);
    let starts: Vec<i64> = points
        .iter()
        .map(|point| point[0].as_i64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|pair| pair[1] - pair[0] == 10));

    let queues = body["queues"].as_array().unwrap();
    assert_eq!(queues.len(), userhub_domain::TaskAction::ALL.len());
    assert!(
        queues
            .iter()
            .all(|queue| queue["work"] == 0 && queue["dead"] == 0)
    );
    assert_eq!(body["dead_lettered_chunks"], 0);
    app.stop().await;
}

#[tokio::test]
async fn the_page_and_its_assets_carry_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/ops", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/ops/");
    for (path, content_type) in [
        ("/ops/", "text/html"),
        ("/ops/dashboard.js", "text/javascript"),
        ("/ops/dashboard.css", "text/css"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type)
        );
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = app
        .client
        .get(format!("{}/ops/", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<script src=\"/ops/dashboard.js\""));
    assert!(!page.contains("<script>"), "no inline script");
    app.stop().await;
}

#[tokio::test]
async fn the_operator_cancel_needs_the_token_and_names_what_it_cannot_cancel() {
    let app = TestApp::spawn_with(|settings| {
        settings.ops.operator_token = Some(TOKEN.to_owned());
    })
    .await;
    let task_id = app
        .create_task("create_core_profiles", &seed_records()[..1])
        .await;
    app.wait_completed(task_id).await;
    let cancel = |id: String, token: Option<&str>| {
        let mut request = app
            .client
            .post(format!("{}/ops/api/tasks/{id}/cancel", app.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        cancel(task_id.to_string(), None).await.unwrap().status(),
        401
    );
    // A domain's API key is not an operator token.
    let with_key = cancel(task_id.to_string(), Some(&app.api_key))
        .await
        .unwrap();
    assert_eq!(with_key.status(), 401);
    let completed = cancel(task_id.to_string(), Some(TOKEN)).await.unwrap();
    assert_eq!(completed.status(), 409);
    let body: Value = completed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TASK_COMPLETED");
    let unknown = cancel("1234567".to_owned(), Some(TOKEN)).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let malformed = cancel("x".to_owned(), Some(TOKEN)).await.unwrap();
    assert_eq!(malformed.status(), 400);
    app.stop().await;
}
