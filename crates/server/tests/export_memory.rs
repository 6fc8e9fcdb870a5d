//! A selector export of 200 000 profiles by a worker running as its own process: the task
//! completes with every profile while the worker's peak memory stays bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use userhub_tests::{Service, TestApp, peak_rss_kib, settings_env};

const PROFILES: i64 = 200_000;
/// Far above what a bounded export needs (a few chunks at a time), far below holding it all.
const RSS_CEILING_KIB: u64 = 512 * 1024;

async fn seed_profiles(app: &TestApp) {
    let client = app.pool.get().await.unwrap();
    let domain: i64 = client
        .query_one("SELECT id FROM domains WHERE name = $1", &[&app.domain])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO core_profiles (id, domain_id, names, tags, custom_fields, last_country, last_city, age,
                                        lifetime_value, accepted_t_and_c, preferred_language, last_active_date)
             SELECT nextval('core_profile_ids'), $1,
                    jsonb_build_object('first_name', 'Ada', 'last_name', 'Lovelace ' || g),
                    jsonb_build_array('vip', 'beta'), jsonb_build_object('plan', 'gold', 'seats', g % 10),
                    'DE', 'Berlin', 20 + g % 60, 100.25, true, 'en', 1742792448000 + g
               FROM generate_series(1, $2::int8) AS g",
            &[&domain, &PROFILES],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO identities (domain_id, kind, normalized, value, core_profile_id)
             SELECT $1, 'uid', 'user-' || id, 'user-' || id, id FROM core_profiles WHERE domain_id = $1",
            &[&domain],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_200_000_profiles_completes_with_bounded_worker_memory() {
    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    seed_profiles(&app).await;
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_userhub-server"))
        .args(["worker", "get_core_profiles"])
        .envs(settings_env(&app.settings))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let worker_pid = worker.id().unwrap();
    let task_id = app
        .create_task("get_core_profiles", &[json!({"all": true})])
        .await;
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_rss_kib(worker_pid).unwrap_or(0));
        let status = app.status(task_id).await;
        if status["state"] == "completed" {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    peak = peak.max(peak_rss_kib(worker_pid).unwrap_or(0));
    println!(
        "export of {PROFILES} profiles: worker peak RSS {} MiB, status {status}",
        peak / 1024
    );
    assert_eq!(status["total"], PROFILES);
    assert_eq!(status["succeeded"], PROFILES);
    assert_eq!(status["failed"], 0);
    assert!(
        peak > 0 && peak < RSS_CEILING_KIB,
        "worker peak RSS {peak} KiB"
    );

    let url = format!("{}/results?format=ndjson", app.task_url(task_id));
    let mut body = app
        .authorized(app.client.get(url))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let (mut lines, mut pending, mut last) = (0_i64, Vec::new(), Value::Null);
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.unwrap());
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if lines == 0 || lines == PROFILES - 1 {
                last = serde_json::from_slice(&line).unwrap();
                assert_eq!(last["index"], lines);
                assert_eq!(last["custom_fields"]["plan"], "gold");
            }
            lines += 1;
        }
    }
    assert_eq!(lines, PROFILES, "every profile is in the results");
    assert!(
        last["identities"][0]["uid"]
            .as_str()
            .unwrap()
            .starts_with("user-")
    );
    worker.start_kill().unwrap();
    let _ = worker.wait().await;
    app.stop().await;
}
