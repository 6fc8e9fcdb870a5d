//! Rate limiting: a bucket of requests per domain and minute with `X-Rate-Limit-*` headers on every response.

use userhub_tests::TestApp;

fn header(response: &reqwest::Response, name: &str) -> i64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_sixty_first_request_in_a_minute_is_rate_limited() {
    let app = TestApp::spawn_with(|settings| settings.rate_limit.per_minute = 60).await;
    let mut remaining = Vec::new();
    for _ in 0..60 {
        let response = app
            .authorized(app.client.get(app.task_url(1)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(header(&response, "x-rate-limit-limit"), 60);
        let reset = header(&response, "x-rate-limit-reset");
        assert!(
            reset > 1_700_000_000_000,
            "reset is epoch milliseconds: {reset}"
        );
        remaining.push(header(&response, "x-rate-limit-remaining"));
    }
    assert_eq!(
        remaining,
        (0..60).rev().collect::<Vec<i64>>(),
        "remaining counts down"
    );
    let limited = app
        .authorized(app.client.get(app.task_url(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after = header(&limited, "retry-after");
    assert!((1..=60).contains(&retry_after));
    assert_eq!(header(&limited, "x-rate-limit-remaining"), 0);
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    let other_key = app.create_domain_with_key("quiet-tenant", false).await;
    let other = app
        .client
        .get(format!(
            "{}/v2/quiet-tenant/identity/bulk_actions/1",
            app.base_url
        ))
        .bearer_auth(other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "other domains have their own bucket");
    app.stop().await;
}

#[tokio::test]
async fn an_operator_can_raise_one_domains_limit() {
    let app = TestApp::spawn_with(|settings| settings.rate_limit.per_minute = 60).await;
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(500))
        .await
        .unwrap();
    let response = app
        .authorized(app.client.get(app.task_url(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "x-rate-limit-limit"), 500);
    assert!(
        userhub_server::admin::set_rate_limit(&app.pool, "no-such-domain", Some(5))
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_limits_endpoint_shows_the_domains_own_limits() {
    let app = TestApp::spawn_with(|settings| settings.rate_limit.per_minute = 90).await;
    let limits_url = format!("{}/limits", app.tasks_url());
    let get = || async {
        let response = app
            .authorized(app.client.get(&limits_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().await.unwrap()
    };
    let defaults = get().await;
    assert_eq!(defaults["records_per_task"], 10_000);
    assert_eq!(defaults["requests_per_minute"], 90);
    assert_eq!(defaults["max_body_bytes"], 16 * 1024 * 1024);
    assert_eq!(defaults["max_multipart_bytes"], 256 * 1024 * 1024);

    userhub_server::admin::set_record_limit(&app.pool, &app.domain, Some(250))
        .await
        .unwrap();
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(500))
        .await
        .unwrap();
    let own = get().await;
    assert_eq!(own["records_per_task"], 250);
    assert_eq!(own["requests_per_minute"], 500);
    let anonymous = app.client.get(&limits_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

/// A second API process on `app`'s database and settings: its base URL, once it answers.
async fn second_process(
    app: &TestApp,
    stop: &tokio_util::sync::CancellationToken,
) -> (
    String,
    tokio::task::JoinHandle<Result<(), userhub_server::ServerError>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(userhub_server::run_api(
        app.settings.clone(),
        listener,
        stop.clone(),
    ));
    // It answers once it is up (its first answers are connection errors).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while app
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second process starts"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (base, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_processes_admit_exactly_the_domains_limit_together() {
    let app = TestApp::spawn().await;
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(7))
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let (second_base, second) = second_process(&app, &stop).await;
    let bases = [app.base_url.clone(), second_base];
    let get = |base: &str| {
        app.authorized(
            app.client
                .get(format!("{base}/v2/{}/identity/bulk_actions/1", app.domain)),
        )
        .send()
    };
    let mut remaining = Vec::new();
    for n in 0..7 {
        let response = get(&bases[n % 2]).await.unwrap();
        assert_eq!(response.status(), 404, "request {n} is within the limit");
        assert_eq!(header(&response, "x-rate-limit-limit"), 7);
        remaining.push(header(&response, "x-rate-limit-remaining"));
    }
    assert_eq!(
        remaining,
        vec![6, 5, 4, 3, 2, 1, 0],
        "one count across both"
    );
    for base in &bases {
        let limited = get(base).await.unwrap();
        assert_eq!(
            limited.status(),
            429,
            "{base} refuses past the shared limit"
        );
        assert!(header(&limited, "retry-after") >= 1);
    }
    stop.cancel();
    second.await.unwrap().unwrap();
    app.stop().await;
}

/// With a limit large enough that processes lease batches of it, two processes asked in turn
/// until both refuse admit exactly the limit: no request beyond it, and none held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_batches_admit_the_limit_exactly_across_two_processes() {
    let app = TestApp::spawn().await;
    let limit: i32 = 500;
    userhub_server::admin::set_rate_limit(&app.pool, &app.domain, Some(limit))
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let (second_base, second) = second_process(&app, &stop).await;
    let bases = [app.base_url.clone(), second_base];
    let mut admitted = [0, 0];
    let mut refused = [false, false];
    let mut n = 0;
    while !(refused[0] && refused[1]) {
        let at = n % 2;
        n += 1;
        if refused[at] {
            continue;
        }
        let response = app
            .authorized(app.client.get(format!(
                "{}/v2/{}/identity/bulk_actions/1",
                bases[at], app.domain
            )))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            404 => admitted[at] += 1,
            429 => refused[at] = true,
            other => panic!("unexpected {other}"),
        }
        assert!(n < 2 * limit as usize + 10, "both processes stop admitting");
    }
    assert_eq!(admitted[0] + admitted[1], limit, "{admitted:?}");
    assert!(admitted[0] > 0 && admitted[1] > 0, "{admitted:?}");
    let leases = app
        .query_json(&format!(
            "SELECT used FROM rate_windows WHERE key = '{}'",
            app.domain
        ))
        .await;
    assert_eq!(
        leases[0]["used"],
        serde_json::json!(limit),
        "every leased request was spent"
    );
    stop.cancel();
    second.await.unwrap().unwrap();
    app.stop().await;
}
