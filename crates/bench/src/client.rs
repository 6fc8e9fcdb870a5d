//! The benchmark's HTTP client: concurrent uploads, waiting for tasks, and downloads that are
//! verified by counting their entries.

use crate::stack::Stack;
use anyhow::Context;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What an upload phase produced.
#[derive(Debug, Default)]
pub struct Uploads {
    pub task_ids: Vec<u64>,
    pub latencies_ms: Vec<f64>,
    /// Each POST's `Server-Timing` steps, in milliseconds.
    pub server_timings: Vec<Vec<(String, f64)>>,
}

/// The steps of a `Server-Timing` header (`name;dur=ms, ...`); unreadable steps are skipped.
fn server_timing(headers: &reqwest::header::HeaderMap) -> Vec<(String, f64)> {
    let Some(value) = headers
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
    else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|step| {
            let (name, duration) = step.trim().split_once(";dur=")?;
            Some((name.to_owned(), duration.parse().ok()?))
        })
        .collect()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap_or_default()
}

/// POSTs one task as a multipart JSONL upload; returns its id and how long the POST took.
pub async fn post_jsonl(
    http: &reqwest::Client,
    stack: &Stack,
    action: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u64, f64)> {
    StackRef {
        url: stack.tasks_url(),
        key: stack.key.clone(),
    }
    .post(http, action, body)
    .await
    .map(|(task_id, latency, _)| (task_id, latency))
}

/// Uploads `batches` bodies with `concurrency` clients; `body(i)` renders batch `i`.
pub async fn upload_all(
    stack: &Stack,
    action: &'static str,
    batches: usize,
    concurrency: usize,
    body: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
) -> anyhow::Result<Uploads> {
    let next = Arc::new(Mutex::new(0usize));
    let uploads = Arc::new(Mutex::new(Uploads::default()));
    let body = Arc::new(body);
    let http = client();
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (next, uploads, body, http) =
            (next.clone(), uploads.clone(), body.clone(), http.clone());
        let stack = StackRef {
            url: stack.tasks_url(),
            key: stack.key.clone(),
        };
        clients.push(tokio::spawn(async move {
            loop {
                let batch = {
                    let mut next = next.lock().await;
                    if *next >= batches {
                        return Ok::<(), anyhow::Error>(());
                    }
                    *next += 1;
                    *next - 1
                };
                let payload = body(batch);
                let (task_id, latency, steps) = stack.post(&http, action, payload).await?;
                let mut uploads = uploads.lock().await;
                uploads.task_ids.push(task_id);
                uploads.latencies_ms.push(latency);
                uploads.server_timings.push(steps);
            }
        }));
    }
    for client in clients {
        client.await??;
    }
    let uploads = std::mem::take(&mut *uploads.lock().await);
    Ok(uploads)
}

/// What a spawned client needs of the stack.
struct StackRef {
    url: String,
    key: String,
}

impl StackRef {
    async fn post(
        &self,
        http: &reqwest::Client,
        action: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u64, f64, Vec<(String, f64)>)> {
        let started = Instant::now();
        let form = reqwest::multipart::Form::new()
            .text("action", action.to_owned())
            .part(
                "payload",
                reqwest::multipart::Part::bytes(body).file_name("bench.jsonl"),
            );
        let response = http
            .post(&self.url)
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        let steps = server_timing(response.headers());
        let text = response.text().await?;
        anyhow::ensure!(
            status.as_u16() == 201,
            "POST {action} answered {status}: {text}"
        );
        let task_id = serde_json::from_str::<Value>(&text)?["task_id"]
            .as_u64()
            .context("no task id")?;
        Ok((task_id, started.elapsed().as_secs_f64() * 1000.0, steps))
    }
}

/// Waits until every task is completed; returns their final statuses.
pub async fn wait_completed(stack: &Stack, task_ids: &[u64]) -> anyhow::Result<Vec<Value>> {
    let http = client();
    let mut statuses = Vec::with_capacity(task_ids.len());
    for task_id in task_ids {
        loop {
            let url = format!("{}/{task_id}", stack.tasks_url());
            let status: Value = http
                .get(&url)
                .bearer_auth(&stack.key)
                .send()
                .await?
                .json()
                .await?;
            if status["state"] == "completed" {
                statuses.push(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(statuses)
}

/// Downloads a task's results or errors zip and counts its entries (verifying the JSON array).
pub async fn download_count(
    http: &reqwest::Client,
    stack: &Stack,
    task_id: u64,
    kind: &str,
) -> anyhow::Result<u64> {
    let url = format!("{}/{task_id}/{kind}", stack.tasks_url());
    let response = http.get(url).bearer_auth(&stack.key).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "download of {kind} failed: {}",
        response.status()
    );
    let bytes = response.bytes().await?;
    tokio::task::spawn_blocking(move || count_entries(&bytes)).await?
}

fn count_entries(zip: &[u8]) -> anyhow::Result<u64> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))?;
    let entry = archive.by_index(0)?;
    let mut lines = BufReader::new(entry).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    anyhow::ensure!(first.starts_with('['), "not a JSON array");
    if first == "[]" {
        return Ok(0);
    }
    let mut count = 0;
    for line in lines {
        let line = line?;
        if line.starts_with("{\"index\":") {
            count += 1;
        } else {
            anyhow::ensure!(
                line == "]" || line.is_empty(),
                "unexpected line in the results"
            );
        }
    }
    Ok(count)
}
