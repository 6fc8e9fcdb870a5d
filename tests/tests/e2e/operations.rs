//! Operational endpoints: Prometheus metrics reflect the work done.

use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_records;

fn value_of(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_records_chunks_and_show_queues_and_pool() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app.run_task("create_core_profiles", &seed_records()).await;
    assert_eq!(status["succeeded"], 3);
    let _ = app
        .authorized(app.client.get(app.task_url(1)))
        .send()
        .await
        .unwrap();
    let anonymous = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "/metrics is not anonymous");
    let response = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth(userhub_tests::METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let metrics = response.text().await.unwrap();
    let created = "userhub_http_requests_total{method=\"POST\",route=\"/v2/{domain}/identity/bulk_actions\",status=\"201\"}";
    assert_eq!(value_of(&metrics, created), Some(1.0), "{metrics}");
    let not_found = "userhub_http_requests_total{method=\"GET\",route=\"/v2/{domain}/identity/bulk_actions/{task_id}\",status=\"404\"}";
    assert_eq!(value_of(&metrics, not_found), Some(1.0));
    let records =
        "userhub_records_processed_total{action=\"create_core_profiles\",outcome=\"succeeded\"}";
    assert_eq!(value_of(&metrics, records), Some(3.0));
    assert_eq!(
        value_of(
            &metrics,
            "userhub_tasks_accepted_total{action=\"create_core_profiles\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(
            &metrics,
            "userhub_tasks_completed_total{action=\"create_core_profiles\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(
            &metrics,
            "userhub_chunks_total{action=\"create_core_profiles\",result=\"applied\"}"
        ),
        Some(1.0)
    );
    assert!(
        metrics.contains("userhub_chunk_duration_seconds_count{action=\"create_core_profiles\"} 1")
    );
    assert_eq!(
        value_of(
            &metrics,
            "userhub_queue_messages{action=\"create_core_profiles\",queue=\"dead\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        value_of(&metrics, "userhub_open_tasks{state=\"processing\"}"),
        Some(0.0)
    );
    assert!(
        value_of(&metrics, "userhub_db_pool_connections{state=\"size\"}")
            .is_some_and(|size| size >= 1.0)
    );
    // The three created profiles' events reach the broker; the outbox empties.
    let mut events = (None, None);
    for _ in 0..200 {
        let metrics = app.metrics().await;
        events = (
            value_of(&metrics, "userhub_profile_events_published_total"),
            value_of(&metrics, "userhub_profile_events_pending"),
        );
        if events == (Some(3.0), Some(0.0)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(events, (Some(3.0), Some(0.0)));
    app.stop().await;
}
