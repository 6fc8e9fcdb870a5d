//! Webhooks shared by many domains: a hanging endpoint of one domain does not hold another
//! domain's deliveries, the delivery log answers a bounded page whatever the payloads, old
//! deliveries are deleted, secrets written in clear text are sealed and still sign, and an
//! installation without a sealing key refuses webhooks clearly.

use serde_json::{Value, json};
use standardwebhooks::Webhook;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use userhub_tests::TestApp;
use userhub_tests::receiver::{SharedInbox, receiver, wait_for};

/// An endpoint where nothing listens (deliveries to it are kept from the dispatcher).
const NOWHERE: &str = "http://127.0.0.1:9/hook";

/// An endpoint that accepts connections and never answers; counts the connections open.
async fn hanging_endpoint(open: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let now = open.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let open = Arc::clone(&open);
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while matches!(stream.readable().await, Ok(())) {
                    match stream.try_read(&mut sink) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    url
}

async fn register(app: &TestApp, domain: &str, key: &str, url: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/v2/{domain}/webhooks", app.base_url))
        .bearer_auth(key)
        .json(&json!({"url": url, "events": ["task.completed"]}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// Queues `count` deliveries of `payload` for an endpoint, as the completion trigger would.
async fn queue_deliveries(app: &TestApp, endpoint_id: i64, count: usize, payload: &str) {
    app.execute(&format!(
        "INSERT INTO webhook_deliveries (domain_id, endpoint_id, message_id, event_type, payload)
         SELECT e.domain_id, e.id, 'msg_test_' || n, 'task.completed', '{payload}'
           FROM webhook_endpoints e, generate_series(1, {count}) AS n
          WHERE e.id = {endpoint_id}"
    ))
    .await;
}

#[tokio::test]
async fn a_hanging_endpoint_of_one_domain_does_not_delay_another_domains_delivery() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.poll_interval_ms = 50;
        settings.webhooks.timeout_ms = 120_000;
        settings.webhooks.concurrency = 4;
        settings.webhooks.concurrency_per_domain = 2;
    })
    .await;
    let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hanging = hanging_endpoint(Arc::clone(&open), Arc::clone(&most)).await;
    let alpha = register(&app, &app.domain, &app.api_key, &hanging).await;
    queue_deliveries(
        &app,
        alpha["id"].as_i64().unwrap(),
        20,
        r#"{"type":"task.completed"}"#,
    )
    .await;
    for _ in 0..100 {
        if open.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open.load(Ordering::SeqCst), 2, "alpha's attempts hang");

    let beta = format!("{}-beta", app.domain);
    let beta_key = app.create_domain_with_key(&beta, false).await;
    let inbox: SharedInbox = Arc::default();
    let url = receiver(Arc::clone(&inbox)).await;
    let endpoint = register(&app, &beta, &beta_key, &url).await;
    let started = Instant::now();
    queue_deliveries(
        &app,
        endpoint["id"].as_i64().unwrap(),
        1,
        r#"{"type":"task.completed"}"#,
    )
    .await;
    while inbox.lock().unwrap().received.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "beta's delivery waited behind alpha's hanging endpoint"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = started.elapsed();
    println!("beta's delivery went out {waited:?} after it was queued, alpha's endpoint hanging");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "alpha never had more than its share of attempts at once"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_delivery_log_is_a_bounded_page_whatever_the_payloads() {
    let app = TestApp::spawn_with(|settings| settings.webhooks.allow_private_targets = true).await;
    let endpoint = register(&app, &app.domain, &app.api_key, NOWHERE).await;
    let endpoint_id = endpoint["id"].as_i64().unwrap();
    let large = format!(
        r#"{{"type":"task.completed","data":"{}"}}"#,
        "x".repeat(400_000)
    );
    queue_deliveries(&app, endpoint_id, 150, &large).await;
    // Keep the dispatcher away from them (the URL is not reachable from here anyway).
    app.execute("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour'")
        .await;
    let log_url = format!(
        "{}/v2/{}/webhooks/{endpoint_id}/deliveries",
        app.base_url, app.domain
    );
    let page = |query: String| {
        let url = format!("{log_url}{query}");
        app.authorized(app.client.get(url)).send()
    };
    let first = page("?limit=100".to_owned()).await.unwrap();
    assert_eq!(first.status(), 200);
    let text = first.text().await.unwrap();
    println!(
        "a page of 100 deliveries of 400 KB each: {} bytes",
        text.len()
    );
    assert!(text.len() < 1024 * 1024, "{} bytes", text.len());
    let first: Value = serde_json::from_str(&text).unwrap();
    let shown = first["deliveries"].as_array().unwrap();
    assert_eq!(shown.len(), 100);
    assert!(shown.iter().all(|d| d.get("payload").is_none()));
    assert!(
        shown
            .iter()
            .all(|d| d["payload_bytes"].as_i64() > Some(400_000))
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = page(format!("?limit=100&cursor={cursor}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["deliveries"].as_array().unwrap().len(), 50);
    assert!(
        second.get("next_cursor").is_none(),
        "{}",
        second["next_cursor"]
    );
    let ids: Vec<i64> = shown
        .iter()
        .chain(second["deliveries"].as_array().unwrap())
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first, no repeats"
    );
    let default: Value = page(String::new()).await.unwrap().json().await.unwrap();
    assert_eq!(default["deliveries"].as_array().unwrap().len(), 50);
    for wrong in ["?limit=0", "?limit=101", "?limit=x", "?cursor=abc"] {
        let response = page(wrong.to_owned()).await.unwrap();
        assert_eq!(response.status(), 400, "{wrong}");
    }
    let one: Value = app
        .authorized(app.client.get(format!("{log_url}/{}", ids[0])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["payload"]["data"].as_str().unwrap().len(), 400_000);
    app.stop().await;
}

#[tokio::test]
async fn old_deliveries_are_deleted_and_recent_ones_kept() {
    let app = TestApp::spawn_with(|settings| {
        settings.retention.webhook_delivery_days = 3;
        settings.retention.sweep_interval_ms = 100;
        settings.webhooks.allow_private_targets = true;
    })
    .await;
    let endpoint = register(&app, &app.domain, &app.api_key, NOWHERE).await;
    let endpoint_id = endpoint["id"].as_i64().unwrap();
    queue_deliveries(&app, endpoint_id, 5, "{}").await;
    app.execute(
        "UPDATE webhook_deliveries SET state = 'delivered', \
         next_attempt_at = now() + interval '1 hour', deadline_at = now() - interval '1 day'",
    )
    .await;
    app.execute(
        "UPDATE webhook_deliveries SET created_at = now() - interval '4 days' \
          WHERE message_id IN ('msg_test_1', 'msg_test_2')",
    )
    .await;
    let mut left = Value::Null;
    for _ in 0..100 {
        left = app
            .query_json("SELECT message_id FROM webhook_deliveries ORDER BY message_id")
            .await;
        if left.as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["msg_test_3", "msg_test_4", "msg_test_5"]);
    app.stop().await;
}

#[tokio::test]
async fn secrets_written_in_clear_text_are_sealed_at_start_and_still_sign() {
    let first = TestApp::spawn().await;
    let inbox: SharedInbox = Arc::default();
    let url = receiver(Arc::clone(&inbox)).await;
    let clear = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
    first
        .execute(&format!(
            "INSERT INTO webhook_endpoints (domain_id, url, events, secret)
             SELECT id, '{url}', ARRAY['task.completed'], '{clear}' FROM domains
              WHERE name = '{}'",
            first.domain
        ))
        .await;
    let database = first.settings.database.url.clone();
    let domain = first.domain.clone();
    let key = first.api_key.clone();
    first.stop_keeping_database().await;

    let app = TestApp::spawn_with(|settings| {
        settings.database.url = database;
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.poll_interval_ms = 50;
    })
    .await;
    let mut stored = String::new();
    for _ in 0..100 {
        stored = app.query_json("SELECT secret FROM webhook_endpoints").await[0]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        if stored.starts_with("v1.") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        stored.starts_with("v1.") && !stored.contains(&clear[6..]),
        "{stored}"
    );
    let response = app
        .client
        .post(format!(
            "{}/v2/{domain}/identity/bulk_actions",
            app.base_url
        ))
        .bearer_auth(&key)
        .json(
            &json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "s"}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    wait_for(&inbox, 1).await;
    let (headers, body) = inbox.lock().unwrap().received[0].clone();
    Webhook::new(clear)
        .unwrap()
        .verify(&body, &headers)
        .expect("signed with the secret the endpoint was given");
    app.stop().await;
}

#[tokio::test]
async fn without_a_sealing_key_webhooks_are_refused_clearly() {
    let app = TestApp::spawn_with(|settings| settings.webhooks.secret_key = None).await;
    let response = app
        .authorized(
            app.client
                .post(format!("{}/v2/{}/webhooks", app.base_url, app.domain))
                .json(&json!({"url": "https://example.com/", "events": ["task.completed"]})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "WEBHOOKS_DISABLED", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("USERHUB__WEBHOOKS__SECRET_KEY")
    );
    app.stop().await;
}
