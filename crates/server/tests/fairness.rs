//! Fairness: one domain's big import does not starve another domain's small task — chunks of
//! domains with small backlogs are delivered first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::time::Duration;
use userhub_tests::oracle::numbered_profiles;
use userhub_tests::{ServerProcess, Service, TestApp, jsonl};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_task_overtakes_another_domains_big_import() {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 500;
        settings.broker.prefetch = 1;
    })
    .await;
    let records = numbered_profiles(0..50_000);
    let mut big = Vec::new();
    for batch in records.chunks(10_000) {
        big.push(app.create_task("create_core_profiles", batch).await);
    }
    let small_key = app.create_domain_with_key("small-co", false).await;
    let response = app
        .client
        .post(format!(
            "{}/v2/small-co/identity/bulk_actions",
            app.base_url
        ))
        .bearer_auth(&small_key)
        .multipart(
            reqwest::multipart::Form::new()
                .text("action", "create_core_profiles")
                .part(
                    "payload",
                    reqwest::multipart::Part::bytes(
                        jsonl(&numbered_profiles(900_000..900_010)).into_bytes(),
                    )
                    .file_name("small.jsonl"),
                ),
        )
        .send()
        .await
        .unwrap();
    let small: u64 = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let small_url = format!("{}/v2/small-co/identity/bulk_actions/{small}", app.base_url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status: Value = app
            .client
            .get(&small_url)
            .bearer_auth(&small_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["state"] == "completed" {
            assert_eq!(status["succeeded"], 10);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the small task never completed"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let big_done = app
        .query_json(&format!(
            "SELECT coalesce(sum(processed), 0)::int8 AS n FROM tasks WHERE id IN ({})",
            { big.iter().map(u64::to_string).collect::<Vec<_>>().join(",") }
        ))
        .await[0]["n"]
        .as_i64()
        .unwrap();
    println!("the small task completed when the big import had {big_done} of 50000 records done");
    assert!(
        big_done < 25_000,
        "the small task waited for most of the big import: {big_done}"
    );
    for task in big {
        app.wait_completed(task).await;
    }
    app.stop().await;
}
