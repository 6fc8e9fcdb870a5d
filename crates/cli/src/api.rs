//! The bulk API over HTTP: every request paced by the rate gate and retried when the server is
//! busy or unreachable (`429`, `503`, `409 IDEMPOTENCY_KEY_IN_USE`, connection errors); other
//! errors come back typed with the server's code and message.

use crate::config::Connection;
use crate::rate_gate::RateGate;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// How often a request is retried after a failure that is not the client's.
const MAX_ATTEMPTS: u32 = 10;
/// Attempts while the server has never answered (a wrong URL should fail fast).
const MAX_ATTEMPTS_BEFORE_CONTACT: u32 = 3;
/// Waits at least this long are announced, so that the user knows why nothing moves.
const ANNOUNCED_WAIT: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{status} {code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
        details: Option<Box<serde_json::Value>>,
    },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unexpected answer from {url}: {reason}")]
    Protocol { url: String, reason: String },
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    details: Option<serde_json::Value>,
}

/// `201` of a create request.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedTask {
    pub task_id: u64,
    pub state: String,
    /// The server returned the task an earlier request with the same idempotency key created.
    #[serde(skip)]
    pub replayed: bool,
}

/// A task's status (the fields the client uses).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TaskStatus {
    pub task_id: u64,
    pub state: String,
    pub action: String,
    pub progress_percentage: u64,
    pub total: u64,
    pub processed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub created_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub stalled: Option<bool>,
    #[serde(default)]
    pub stall_reason: Option<String>,
}

impl TaskStatus {
    pub fn is_completed(&self) -> bool {
        self.state == "completed"
    }
}

/// A page of the task list.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskPage {
    pub tasks: Vec<TaskStatus>,
    pub next_cursor: Option<String>,
}

/// The domain's limits.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Limits {
    pub records_per_task: u64,
    /// Records a task made from an upload may hold (servers without uploads leave it out).
    #[serde(default)]
    pub records_per_upload: Option<u64>,
    pub requests_per_minute: u32,
    pub max_multipart_bytes: u64,
}

/// Where the client tells why it waits (rate limit, unreachable server).
pub type Notices = Arc<dyn Fn(&str) + Send + Sync>;

/// A client of one domain of one server; cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    tasks_url: String,
    api_key: Option<String>,
    gate: Arc<RateGate>,
    notices: Notices,
    /// Whether the server ever answered (then unreachability is taken for a restart).
    reached: Arc<std::sync::atomic::AtomicBool>,
}

/// How a create request's body is sent.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A multipart upload of a JSONL file part or a JSON array.
    File { bytes: Bytes, jsonl: bool },
    /// A JSON body with the given records.
    Json(serde_json::Value),
    /// A JSON body naming a complete upload whose file holds the records.
    Upload(String),
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl ApiClient {
    pub fn new(connection: &Connection) -> Result<ApiClient, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("userhub-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|error| ApiError::Unreachable {
                url: connection.url.clone(),
                reason: error.to_string(),
            })?;
        Ok(ApiClient {
            http,
            tasks_url: format!(
                "{}/v2/{}/identity/bulk_actions",
                connection.url, connection.domain
            ),
            api_key: connection.api_key.clone(),
            gate: Arc::new(RateGate::default()),
            notices: Arc::new(|message: &str| eprintln!("userhub: {message}")),
            reached: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Sends the client's notices (why it waits) to `notices` instead of stderr.
    pub fn with_notices(mut self, notices: Notices) -> ApiClient {
        self.notices = notices;
        self
    }

    fn notice(&self, message: &str) {
        (self.notices)(message);
    }

    pub fn task_url(&self, task_id: u64) -> String {
        format!("{}/{task_id}", self.tasks_url)
    }

    /// The domain's tus upload endpoint.
    pub fn uploads_url(&self) -> String {
        self.tasks_url.replace("/identity/bulk_actions", "/uploads")
    }

    /// The server's own address, for a `Location` it gives as a path.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_owned();
        }
        let origin_end = self.tasks_url.find("/v2/").unwrap_or(self.tasks_url.len());
        format!("{}{location}", &self.tasks_url[..origin_end])
    }

    /// A request of the tus protocol, built afresh for every attempt.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends the request `build` makes (again for every attempt) until it gets an answer that is
    /// final: a success, or a client error.
    pub async fn send(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        self.send_accepting(url, build, &[]).await
    }

    /// [`ApiClient::send`] that also takes the client errors in `accepted` as answers.
    pub async fn send_accepting(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
        accepted: &[u16],
    ) -> Result<reqwest::Response, ApiError> {
        use std::sync::atomic::Ordering;
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0;
        let mut announced_unreachable = false;
        loop {
            if let Some(pause) = self
                .gate
                .pending_wait()
                .filter(|pause| *pause >= ANNOUNCED_WAIT)
            {
                self.notice(&format!(
                    "the domain's requests for this minute are used up; waiting {} s for the next window",
                    pause.as_secs().max(1)
                ));
            }
            self.gate.wait().await;
            let mut request = build();
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let limit = if self.reached.load(Ordering::Relaxed) {
                MAX_ATTEMPTS
            } else {
                MAX_ATTEMPTS_BEFORE_CONTACT
            };
            let pause = match request.send().await {
                Ok(response) => {
                    self.reached.store(true, Ordering::Relaxed);
                    if announced_unreachable {
                        self.notice(&format!("{url} answers again"));
                        announced_unreachable = false;
                    }
                    self.gate.observe(response.headers());
                    let status = response.status().as_u16();
                    match status {
                        429 => {
                            let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                            if wait >= ANNOUNCED_WAIT {
                                self.notice(&format!(
                                    "rate limited by the server; waiting {} s as it asks",
                                    wait.as_secs()
                                ));
                            }
                            self.gate.exhausted_for(wait);
                            continue;
                        }
                        409 | 502 | 503 | 504 if retryable(status, &response) => {
                            retry_after(&response).unwrap_or(backoff)
                        }
                        _ if response.status().is_success() || accepted.contains(&status) => {
                            return Ok(response);
                        }
                        _ => return Err(error_of(url, response).await),
                    }
                }
                Err(error) if failures + 1 < limit => {
                    if !announced_unreachable {
                        self.notice(&format!(
                            "cannot reach {url} ({}); retrying",
                            describe(&error)
                        ));
                        announced_unreachable = true;
                    }
                    backoff
                }
                Err(error) => {
                    return Err(ApiError::Unreachable {
                        url: url.to_owned(),
                        reason: describe(&error),
                    });
                }
            };
            failures += 1;
            if failures >= limit {
                return Err(ApiError::Unreachable {
                    url: url.to_owned(),
                    reason: format!("the server stayed unavailable for {limit} attempts"),
                });
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let response = self.send(url, || self.http.get(url)).await?;
        response.json().await.map_err(|error| ApiError::Protocol {
            url: url.to_owned(),
            reason: error.to_string(),
        })
    }

    pub async fn limits(&self) -> Result<Limits, ApiError> {
        self.get_json(&format!("{}/limits", self.tasks_url)).await
    }

    pub async fn status(&self, task_id: u64) -> Result<TaskStatus, ApiError> {
        self.get_json(&self.task_url(task_id)).await
    }

    /// Asks the server to cancel an open task (EXT); answers the server's acknowledgement.
    pub async fn cancel(&self, task_id: u64) -> Result<serde_json::Value, ApiError> {
        let url = format!("{}/cancel", self.task_url(task_id));
        let response = self.send(&url, || self.http.post(&url)).await?;
        response.json().await.map_err(|error| ApiError::Protocol {
            url: url.clone(),
            reason: error.to_string(),
        })
    }

    /// Creates a task retrying `task_id`'s failed records.
    pub async fn retry(
        &self,
        task_id: u64,
        all_failed: bool,
    ) -> Result<serde_json::Value, ApiError> {
        let url = format!("{}/retry?all_failed={all_failed}", self.task_url(task_id));
        let response = self.send(&url, || self.http.post(&url)).await?;
        response.json().await.map_err(|error| ApiError::Protocol {
            url: url.clone(),
            reason: error.to_string(),
        })
    }

    /// Creates the task reverting a completed task.
    pub async fn revert(&self, task_id: u64) -> Result<serde_json::Value, ApiError> {
        let url = format!("{}/revert", self.task_url(task_id));
        let response = self.send(&url, || self.http.post(&url)).await?;
        response.json().await.map_err(|error| ApiError::Protocol {
            url: url.clone(),
            reason: error.to_string(),
        })
    }

    /// One page of the task list; `query` holds `state`, `action`, `limit`, `cursor`.
    pub async fn list(&self, query: &[(&str, String)]) -> Result<TaskPage, ApiError> {
        let mut url = reqwest::Url::parse(&self.tasks_url).map_err(|error| ApiError::Protocol {
            url: self.tasks_url.clone(),
            reason: error.to_string(),
        })?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(key, value)| (*key, value.as_str())));
        self.get_json(url.as_str()).await
    }

    /// Creates a task; with an idempotency key a retry (or a re-run) returns the same task.
    pub async fn create_task(
        &self,
        action: &str,
        options: &[(String, String)],
        payload: &Payload,
        idempotency_key: Option<&str>,
    ) -> Result<CreatedTask, ApiError> {
        let url = self.tasks_url.as_str();
        let build = || {
            let mut request = self.http.post(url);
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            match payload {
                Payload::File { bytes, jsonl } => {
                    let (name, mime) = if *jsonl {
                        ("part.jsonl", "application/x-ndjson")
                    } else {
                        ("part.json", "application/json")
                    };
                    let file = reqwest::multipart::Part::stream_with_length(
                        reqwest::Body::from(bytes.clone()),
                        bytes.len() as u64,
                    )
                    .file_name(name)
                    .mime_str(mime)
                    .unwrap_or_else(|_| reqwest::multipart::Part::bytes(bytes.to_vec()));
                    let mut form =
                        reqwest::multipart::Form::new().text("action", action.to_owned());
                    for (name, value) in options {
                        form = form.text(name.clone(), value.clone());
                    }
                    request.multipart(form.part("payload", file))
                }
                Payload::Json(_) | Payload::Upload(_) => {
                    let mut body = match payload {
                        Payload::Upload(id) => {
                            serde_json::json!({"action": action, "upload_id": id})
                        }
                        Payload::Json(records) => {
                            serde_json::json!({"action": action, "payload": records})
                        }
                        Payload::File { .. } => serde_json::Value::Null,
                    };
                    for (name, value) in options {
                        body[name.as_str()] = serde_json::Value::String(value.clone());
                    }
                    request.json(&body)
                }
            }
        };
        let response = self.send(url, build).await?;
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|value| value == "true");
        let mut created: CreatedTask =
            response.json().await.map_err(|error| ApiError::Protocol {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        created.replayed = replayed;
        Ok(created)
    }

    /// The task's results or errors as NDJSON (`kind` is `results` or `errors`).
    pub async fn download(&self, task_id: u64, kind: &str) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/{kind}?format=ndjson", self.task_url(task_id));
        self.send(&url, || self.http.get(&url)).await
    }
}

/// A connection error with its cause (reqwest's own text only says "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// `409` is retried only for an idempotency key still being accepted; `5xx` gateways always.
fn retryable(status: u16, response: &reqwest::Response) -> bool {
    status != 409 || response.headers().contains_key("retry-after")
}

async fn error_of(url: &str, response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ApiError::Server {
            status,
            code: body.error.code,
            message: body.error.message,
            details: body.error.details.map(Box::new),
        },
        Err(_) => ApiError::Protocol {
            url: url.to_owned(),
            reason: format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ),
        },
    }
}

impl ApiError {
    /// Whether running the same command again may get past this error (the server or the
    /// network failed), as opposed to a request the server refuses whatever the retry.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Server { status, .. } => *status >= 500 || *status == 429 || *status == 409,
            ApiError::Unreachable { .. } | ApiError::Protocol { .. } => true,
        }
    }
}
