//! The soak (reliability.md, Load): ten domains submit tasks continuously at their rate limit
//! while their status is polled, and one heavy domain imports big tasks alongside, against a
//! `userhub-server all` process. Zero 5xx, every task completed, the database matches what was
//! accepted, memory stays flat; the figures are printed. `SOAK_SECONDS` sets the length
//! (`make test` runs 60 s, `make soak` 600 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use userhub_tests::oracle::assert_tasks_consistent;
use userhub_tests::{ServerProcess, Service, TestApp, free_port, jsonl, peak_rss_kib};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");
const DOMAINS: usize = 10;
const SMALL_TASK_RECORDS: usize = 50;
const HEAVY_TASK_RECORDS: usize = 10_000;

#[derive(Default)]
struct Figures {
    requests: AtomicU64,
    server_errors: AtomicU64,
    rate_limited: AtomicU64,
    accepted_records: AtomicU64,
    post_latencies_ms: Mutex<Vec<u64>>,
    completion_latencies_ms: Mutex<Vec<u64>>,
}

fn current_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn percentile(values: &mut [u64], share: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * share).round() as usize]
}

fn records(domain: usize, task: usize, count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| json!({"identities": [{"uid": format!("d{domain}-t{task}-{n}")}], "custom_fields": {"n": n}}))
        .collect()
}

struct Client {
    base: String,
    domain: String,
    key: String,
    http: reqwest::Client,
    figures: Arc<Figures>,
}

impl Client {
    async fn send(&self, request: reqwest::RequestBuilder) -> Option<reqwest::Response> {
        let response = request.bearer_auth(&self.key).send().await.ok()?;
        self.figures.requests.fetch_add(1, Ordering::Relaxed);
        match response.status().as_u16() {
            500..=599 => {
                self.figures.server_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "5xx: {} {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                );
                None
            }
            429 => {
                self.figures.rate_limited.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => Some(response),
        }
    }

    async fn post(&self, records: &[Value]) -> Option<u64> {
        let started = Instant::now();
        let form = reqwest::multipart::Form::new()
            .text("action", "create_core_profiles")
            .part(
                "payload",
                reqwest::multipart::Part::bytes(jsonl(records).into_bytes())
                    .file_name("soak.jsonl"),
            );
        let url = format!("{}/v2/{}/identity/bulk_actions", self.base, self.domain);
        let response = self.send(self.http.post(url).multipart(form)).await?;
        assert_eq!(response.status(), 201);
        self.figures
            .post_latencies_ms
            .lock()
            .await
            .push(started.elapsed().as_millis() as u64);
        self.figures
            .accepted_records
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        response.json::<Value>().await.ok()?["task_id"].as_u64()
    }

    async fn status(&self, task_id: u64) -> Option<Value> {
        let url = format!(
            "{}/v2/{}/identity/bulk_actions/{task_id}",
            self.base, self.domain
        );
        self.send(self.http.get(url)).await?.json().await.ok()
    }
}

/// One domain at its rate limit: a small task every fourth request, status polls in between.
async fn small_domain(client: Client, index: usize, until: Instant) -> Vec<u64> {
    let mut tasks: Vec<(u64, Instant)> = Vec::new();
    let mut all = Vec::new();
    let mut tick = 0;
    while Instant::now() < until {
        if tick % 4 == 0 {
            if let Some(task) = client
                .post(&records(index, all.len(), SMALL_TASK_RECORDS))
                .await
            {
                tasks.push((task, Instant::now()));
                all.push(task);
            }
        } else if let Some((task, posted)) = tasks.first().copied() {
            if let Some(status) = client.status(task).await {
                if status["state"] == "completed" {
                    client
                        .figures
                        .completion_latencies_ms
                        .lock()
                        .await
                        .push(posted.elapsed().as_millis() as u64);
                    tasks.remove(0);
                }
            }
        } else {
            // Nothing pending: a dashboard-style poll of the task list keeps the domain at its limit.
            let url = format!(
                "{}/v2/{}/identity/bulk_actions?limit=5",
                client.base, client.domain
            );
            let _ = client.send(client.http.get(url)).await;
        }
        tick += 1;
        tokio::time::sleep(Duration::from_millis(1_050)).await;
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_ten_domains_at_their_rate_limit_with_a_heavy_import_alongside() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.broker.queue_expires_ms = None
    })
    .await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = ServerProcess::spawn(
        SERVER,
        &app.settings,
        &["all"],
        &[("USERHUB__HTTP__ADDR", addr.as_str())],
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let figures = Arc::new(Figures::default());
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut domains = Vec::new();
    for index in 0..DOMAINS {
        let domain = format!("soak-{index}");
        let key = app.create_domain_with_key(&domain, false).await;
        let client = Client {
            base: base.clone(),
            domain,
            key,
            http: http.clone(),
            figures: figures.clone(),
        };
        domains.push(tokio::spawn(small_domain(client, index, until)));
    }
    let heavy_key = app.create_domain_with_key("soak-heavy", false).await;
    userhub_server::admin::set_rate_limit(&app.pool, "soak-heavy", Some(600))
        .await
        .unwrap();
    let heavy = Client {
        base: base.clone(),
        domain: "soak-heavy".into(),
        key: heavy_key,
        http,
        figures: figures.clone(),
    };
    let heavy_task = tokio::spawn(async move {
        let mut tasks = Vec::new();
        while Instant::now() < until {
            if let Some(task) = heavy
                .post(&records(99, tasks.len(), HEAVY_TASK_RECORDS))
                .await
            {
                tasks.push(task);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        tasks
    });
    let mut rss_samples = Vec::new();
    while Instant::now() < until {
        rss_samples.push(current_rss_kib(server.pid));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut tasks: Vec<u64> = Vec::new();
    for domain in domains {
        tasks.extend(domain.await.unwrap());
    }
    tasks.extend(heavy_task.await.unwrap());
    // Drain: every accepted task completes.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let open = app
            .query_json("SELECT count(*) AS n FROM tasks WHERE state <> 'completed'")
            .await[0]["n"]
            .as_i64()
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} tasks never completed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let peak = peak_rss_kib(server.pid).unwrap_or(0);
    let quarter = rss_samples.get(rss_samples.len() / 4).copied().unwrap_or(0);
    let end = rss_samples.last().copied().unwrap_or(0);
    let mut posts = figures.post_latencies_ms.lock().await.clone();
    let mut completions = figures.completion_latencies_ms.lock().await.clone();
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap();
    println!("soak: {seconds} s, {DOMAINS} domains at 60 requests/min + one heavy importer");
    println!(
        "  requests {}, 5xx {}, 429 {}, tasks {}, records accepted {}, profiles stored {profiles}",
        figures.requests.load(Ordering::Relaxed),
        figures.server_errors.load(Ordering::Relaxed),
        figures.rate_limited.load(Ordering::Relaxed),
        tasks.len(),
        figures.accepted_records.load(Ordering::Relaxed),
    );
    println!(
        "  POST latency p50 {} ms, p99 {} ms",
        percentile(&mut posts, 0.5),
        percentile(&mut posts, 0.99)
    );
    println!(
        "  small task completion (seen by polling) p50 {} ms, p95 {} ms, n {}",
        percentile(&mut completions, 0.5),
        percentile(&mut completions, 0.95),
        completions.len()
    );
    println!(
        "  server RSS: at 1/4 {} MiB, at end {} MiB, peak {} MiB",
        quarter / 1024,
        end / 1024,
        peak / 1024
    );
    assert_eq!(figures.server_errors.load(Ordering::Relaxed), 0, "no 5xx");
    assert_eq!(
        profiles as u64,
        figures.accepted_records.load(Ordering::Relaxed),
        "every accepted record stored once"
    );
    assert_tasks_consistent(&app).await;
    assert!(
        end < quarter * 2 + 50 * 1024,
        "memory stays flat: {quarter} KiB → {end} KiB"
    );
    server.terminate();
    let status = server.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "the server shuts down cleanly: {status}");
    app.stop().await;
}
