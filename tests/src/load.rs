//! Driving imports through faults: posting until the gateway accepts (`503` is the only other
//! answer allowed) and waiting for a task's first progress.

use crate::{TestApp, jsonl};
use serde_json::Value;
use std::time::Duration;

/// Posts `records` as a `create_core_profiles` task until accepted; counts the `503`s (each
/// with `Retry-After`) in `refusals`. Any other answer fails the test.
pub async fn post_until_accepted(app: &TestApp, records: &[Value], refusals: &mut usize) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let response = app
            .post_jsonl("create_core_profiles", &jsonl(records))
            .await;
        match response.status().as_u16() {
            201 => {
                return response.json::<Value>().await.unwrap()["task_id"]
                    .as_u64()
                    .unwrap();
            }
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                *refusals += 1;
            }
            other => panic!(
                "unexpected answer {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never accepted again"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the task has processed a record.
pub async fn wait_for_progress(app: &TestApp, task_id: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while app
        .status_when_available(task_id)
        .await
        .is_none_or(|status| status["processed"] == 0)
    {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
