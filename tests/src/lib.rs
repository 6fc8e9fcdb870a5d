//! Helpers for end-to-end tests: each test gets its own database, its own broker prefix and a
//! real `userhub-server all` running in-process on an ephemeral port.
#![allow(clippy::unwrap_used)]

pub mod event_tap;
pub mod fixtures;
pub mod hostile;
pub mod instances;
pub mod load;
pub mod oracle;
mod process;
mod process_env;
mod queues;
pub mod receiver;

pub use process::ServerProcess;
pub use process_env::settings_env;
use queues::delete_broker_names;
pub use queues::{dead_letter_depth, queue_depth, take_work_messages};

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use userhub_server::Settings;
use userhub_store::Pool;

/// A broker URL where nothing listens.
pub const UNREACHABLE_BROKER: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

/// The metrics token of every test server (`/metrics` is not anonymous).
pub const METRICS_TOKEN: &str = "test-metrics-token-6d1f0c";

/// The key that seals every test server's webhook secrets (32 bytes, base64).
pub const WEBHOOK_SECRET_KEY: &str = "dGVzdC13ZWJob29rLXNlYWxpbmcta2V5LTMyLWJ5dGU=";

/// Which service a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Gateway, status and workers in one process.
    All,
    /// The gateway alone: nothing consumes the chunks.
    Gateway,
    /// Gateway and status without workers (tests run workers as separate processes).
    Api,
}

/// A running server with a domain and an API key for it.
pub struct TestApp {
    pub base_url: String,
    pub domain: String,
    pub api_key: String,
    pub client: reqwest::Client,
    pub pool: Pool,
    pub settings: Settings,
    shutdown: CancellationToken,
    server: Option<JoinHandle<Result<(), userhub_server::ServerError>>>,
}

/// A fresh random lowercase hex string.
pub fn random_hex(bytes: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..bytes * 2].to_owned()
}

/// Settings for an isolated test: own database, own broker prefix, fast retries, no rate limit
/// in the way.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    let base = std::env::var("USERHUB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    settings.database.url = format!("{}/uh_test_{}", base.trim_end_matches('/'), random_hex(6));
    settings.database.pool_size = 12;
    if let Ok(url) = std::env::var("USERHUB_TEST_BROKER_URL") {
        settings.broker.url = url;
    }
    settings.broker.prefix = format!("uht{}", random_hex(5));
    // Quorum queues (the default) with two shards per lane: every path of the sharded topology
    // at half the queues per test.
    settings.broker.shards = 2;
    settings.broker.queue_expires_ms = Some(10 * 60 * 1000);
    settings.broker.retry_delays_ms = vec![100, 300];
    settings.worker.shutdown_grace_ms = 5_000;
    settings.http.addr = "127.0.0.1:0".to_owned();
    settings.http.auth_cache_ms = 0;
    settings.rate_limit.per_minute = 100_000;
    settings.http.metrics_token = Some(METRICS_TOKEN.to_owned());
    settings.webhooks.secret_key = Some(WEBHOOK_SECRET_KEY.to_owned());
    settings
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts `userhub-server all` with adjusted settings and creates domain `demo-<random>`
    /// with a key.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_service(Service::All, configure).await
    }

    /// Starts one service (e.g. only the gateway, so that chunks stay in their queues).
    pub async fn spawn_service(service: Service, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = test_settings();
        configure(&mut settings);
        userhub_store::create_database_if_missing(&settings.database.url)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let server = match service {
            Service::All => tokio::spawn(userhub_server::run_all(
                settings.clone(),
                listener,
                shutdown.clone(),
            )),
            Service::Api => tokio::spawn(userhub_server::run_api(
                settings.clone(),
                listener,
                shutdown.clone(),
            )),
            Service::Gateway => tokio::spawn(userhub_server::run_gateway(
                settings.clone(),
                listener,
                shutdown.clone(),
            )),
        };
        let pool = userhub_server::services::connect_database(&settings)
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut app = TestApp {
            base_url,
            domain: String::new(),
            api_key: String::new(),
            client,
            pool,
            settings,
            shutdown,
            server: Some(server),
        };
        let probe = if app.settings.broker.url == UNREACHABLE_BROKER {
            "/healthz"
        } else {
            "/readyz"
        };
        app.wait_for(probe).await;
        app.domain = format!("demo-{}", random_hex(3));
        app.api_key = app.create_domain_with_key(&app.domain.clone(), false).await;
        app
    }

    /// Starts a server whose broker is unreachable (nothing listens on its port).
    pub async fn spawn_without_broker() -> TestApp {
        Self::spawn_with(|settings| settings.broker.url = UNREACHABLE_BROKER.to_owned()).await
    }

    async fn wait_for(&mut self, probe: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut last;
        loop {
            if self.server.as_ref().is_some_and(JoinHandle::is_finished) {
                let ended = self.server.take().unwrap().await;
                panic!("the server stopped while starting: {ended:?}");
            }
            match self
                .client
                .get(format!("{}{probe}", self.base_url))
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => last = response.text().await.unwrap_or_default(),
                Err(error) => last = error.to_string(),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server not ready within 30 s; {probe} said: {last}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a domain (if needed) and a new key for it.
    pub async fn create_domain_with_key(&self, domain: &str, read_only: bool) -> String {
        userhub_server::admin::create_domain(&self.pool, domain)
            .await
            .unwrap();
        userhub_server::admin::create_key(&self.pool, domain, read_only)
            .await
            .unwrap()
    }

    pub fn tasks_url(&self) -> String {
        format!("{}/v2/{}/identity/bulk_actions", self.base_url, self.domain)
    }

    pub fn task_url(&self, task_id: u64) -> String {
        format!("{}/{task_id}", self.tasks_url())
    }

    pub fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&self.api_key)
    }

    /// POST as `application/x-www-form-urlencoded` with `payload` as JSON array text.
    pub async fn post_form(&self, action: &str, payload: &str) -> reqwest::Response {
        let request = self
            .client
            .post(self.tasks_url())
            .form(&[("action", action), ("payload", payload)]);
        self.authorized(request).send().await.unwrap()
    }

    /// POST as multipart with a JSONL file part, the way `curl -F payload=@file.jsonl` does.
    pub async fn post_jsonl(&self, action: &str, jsonl: &str) -> reqwest::Response {
        let part = Part::bytes(jsonl.as_bytes().to_vec())
            .file_name("profiles.jsonl")
            .mime_str("application/octet-stream")
            .unwrap();
        let form = Form::new()
            .text("action", action.to_owned())
            .part("payload", part);
        self.authorized(self.client.post(self.tasks_url()).multipart(form))
            .send()
            .await
            .unwrap()
    }

    /// EXT tus: creates an upload of `length` bytes with `metadata` (name, value pairs) and
    /// sends its first bytes, `first`, in the same request; the upload's id.
    pub async fn begin_upload(
        &self,
        length: usize,
        metadata: &[(&str, &str)],
        first: &[u8],
    ) -> String {
        use base64::Engine;
        let metadata: Vec<String> = metadata
            .iter()
            .map(|(name, value)| {
                let value = base64::engine::general_purpose::STANDARD.encode(value);
                format!("{name} {value}")
            })
            .collect();
        let response = self
            .authorized(
                self.client
                    .post(format!("{}/v2/{}/uploads", self.base_url, self.domain)),
            )
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .header("upload-metadata", metadata.join(","))
            .header("content-type", "application/offset+octet-stream")
            .body(first.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().unwrap();
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// Reverts `task`: the revert task's id once it has completed.
    pub async fn revert_completed(&self, task: u64) -> u64 {
        let url = format!("{}/revert", self.task_url(task));
        let answer: Value = self
            .authorized(self.client.post(url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let revert = answer["task_id"].as_u64().expect("a revert task");
        self.wait_completed(revert).await;
        revert
    }

    /// POST as `application/json` `{"action", "payload"}`.
    pub async fn post_json(&self, action: &str, payload: &Value) -> reqwest::Response {
        let body = serde_json::json!({"action": action, "payload": payload});
        self.authorized(self.client.post(self.tasks_url()).json(&body))
            .send()
            .await
            .unwrap()
    }

    /// Creates a task from a JSON body with options (e.g. `{"match_by": "email"}`) merged into
    /// the envelope; returns its id (asserting `201`).
    pub async fn create_task_with(&self, action: &str, options: Value, records: &[Value]) -> u64 {
        let mut body = serde_json::json!({"action": action, "payload": records});
        if let (Some(body), Some(options)) = (body.as_object_mut(), options.as_object()) {
            body.extend(options.clone());
        }
        let response = self
            .authorized(self.client.post(self.tasks_url()).json(&body))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "task creation failed: {body}");
        body["task_id"].as_u64().unwrap()
    }

    /// Creates a task from JSONL records and returns its id (asserting `201`).
    pub async fn create_task(&self, action: &str, records: &[Value]) -> u64 {
        let jsonl: String = records.iter().map(|record| format!("{record}\n")).collect();
        let response = self.post_jsonl(action, &jsonl).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "task creation failed: {body}");
        body["task_id"].as_u64().unwrap()
    }

    /// Creates a task from raw JSONL lines (which may be broken) and returns its id.
    pub async fn create_task_from_lines(&self, action: &str, lines: &[String]) -> u64 {
        let response = self.post_jsonl(action, &(lines.join("\n") + "\n")).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "task creation failed: {body}");
        body["task_id"].as_u64().unwrap()
    }

    pub async fn status(&self, task_id: u64) -> Value {
        let response = self
            .authorized(self.client.get(self.task_url(task_id)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The status, or `None` while the service answers `503` (a dependency is restarting).
    pub async fn status_when_available(&self, task_id: u64) -> Option<Value> {
        let response = self
            .authorized(self.client.get(self.task_url(task_id)))
            .send()
            .await
            .ok()?;
        if response.status() == 503 {
            return None;
        }
        assert_eq!(response.status(), 200);
        response.json().await.ok()
    }

    /// Polls until the task is completed (deadline 60 s, or `USERHUB_TEST_WAIT_SECS`) and
    /// returns its status; rides out `503`s while a dependency restarts.
    pub async fn wait_completed(&self, task_id: u64) -> Value {
        let wait = std::env::var("USERHUB_TEST_WAIT_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(60);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        loop {
            let Some(status) = self.status_when_available(task_id).await else {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "task {task_id}: service unavailable"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            if status["state"] == "completed" {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {task_id} not completed: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a task, waits for it, and returns (status, results, errors).
    pub async fn run_task(
        &self,
        action: &str,
        records: &[Value],
    ) -> (Value, Vec<Value>, Vec<Value>) {
        let task_id = self.create_task(action, records).await;
        let status = self.wait_completed(task_id).await;
        (
            status,
            self.results(task_id).await,
            self.errors(task_id).await,
        )
    }

    /// Downloads `results` or `errors` and returns the JSON array inside the zip.
    pub async fn download(&self, task_id: u64, kind: &str) -> Vec<Value> {
        let url = format!("{}/{kind}", self.task_url(task_id));
        let response = self.authorized(self.client.get(url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/zip");
        let bytes = response.bytes().await.unwrap();
        let entries = unzip(&bytes);
        assert_eq!(entries.len(), 1, "one entry per zip");
        assert_eq!(entries[0].0, format!("{kind}.json"));
        serde_json::from_slice::<Vec<Value>>(&entries[0].1).unwrap()
    }

    pub async fn results(&self, task_id: u64) -> Vec<Value> {
        self.download(task_id, "results").await
    }

    pub async fn errors(&self, task_id: u64) -> Vec<Value> {
        self.download(task_id, "errors").await
    }

    /// The results as NDJSON text, exactly as served (to check values to the character).
    pub async fn results_ndjson(&self, task_id: u64) -> String {
        self.ndjson(task_id, "results").await
    }

    /// The errors file as NDJSON text, exactly as served.
    pub async fn errors_ndjson(&self, task_id: u64) -> String {
        self.ndjson(task_id, "errors").await
    }

    async fn ndjson(&self, task_id: u64, kind: &str) -> String {
        let url = format!("{}/{kind}?format=ndjson", self.task_url(task_id));
        let response = self.authorized(self.client.get(url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Number of tasks stored for any domain.
    pub async fn task_count(&self) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one("SELECT count(*) FROM tasks", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Runs a query on the test database and returns the first column of the first row as JSON.
    /// The server's Prometheus text, read with the metrics token.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base_url))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "/metrics");
        response.text().await.unwrap()
    }

    pub async fn query_json(&self, sql: &str) -> Value {
        let client = self.pool.get().await.unwrap();
        let wrapped = format!("SELECT to_jsonb(t) FROM ({sql}) t");
        let rows = client.query(&wrapped, &[]).await.unwrap();
        Value::Array(rows.iter().map(|row| row.get::<_, Value>(0)).collect())
    }

    /// Runs a statement on the test database; returns the number of rows it touched.
    pub async fn execute(&self, sql: &str) -> u64 {
        let client = self.pool.get().await.unwrap();
        client.execute(sql, &[]).await.unwrap()
    }

    /// Stops the server gracefully and drops the database.
    /// Stops the server but keeps its database, for a test that starts another server on it
    /// (whose `stop` then drops it).
    pub async fn stop_keeping_database(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
        }
        self.pool.close();
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
        }
        self.pool.close();
        let _ = userhub_store::drop_database(&self.settings.database.url).await;
        delete_broker_names(&self.settings).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if self.server.is_some() {
            // Not stopped explicitly (e.g. a failed assertion): drop the database from a helper
            // thread with its own runtime, since Drop cannot await.
            // Its broker names go too, so that failed tests do not pile up quorum queues.
            let settings = self.settings.clone();
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = runtime.block_on(userhub_store::drop_database(&settings.database.url));
                    let _ = runtime.block_on(async {
                        let cleanup = delete_broker_names(&settings);
                        tokio::time::timeout(Duration::from_secs(10), cleanup).await
                    });
                }
            })
            .join();
        }
    }
}

/// A TCP port that was free a moment ago (for services started as separate processes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// JSONL text of records.
pub fn jsonl(records: &[Value]) -> String {
    records.iter().map(|record| format!("{record}\n")).collect()
}

/// Peak resident memory of a process in KiB (`VmHWM`), if it is still running.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `(name, content)` of every entry of a zip archive.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    (0..archive.len())
        .map(|at| {
            let mut file = archive.by_index(at).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().to_owned(), content)
        })
        .collect()
}
