//! Hostile and careless clients against a `userhub-server all` process: slow headers, paused
//! bodies, too many connections and requests, guessed keys, foreign web pages, invented methods
//! and downloads nobody reads. Each limit answers as docs/operations.md ("Sharing a server between tenants") says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use userhub_tests::hostile::{RunningServer, raw_exchange, read_until_closed};
use userhub_tests::{Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

async fn api_only() -> TestApp {
    TestApp::spawn_service(Service::Api, |_| {}).await
}

fn list_request(domain: &str, key: &str, extra: &str) -> String {
    format!(
        "GET /v2/{domain}/identity/bulk_actions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {key}\r\n{extra}\r\n"
    )
}

/// A request whose body stops after 10 of its 1 000 bytes, kept open.
async fn paused_upload(server: &RunningServer, domain: &str, key: &str) -> TcpStream {
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST /v2/{domain}/identity/bulk_actions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"action\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn slow_headers_paused_bodies_and_idle_connections_are_cut_off() {
    let app = api_only().await;
    let limits = [
        ("USERHUB__HTTP__HEADER_READ_TIMEOUT_MS", "500"),
        ("USERHUB__HTTP__BODY_IDLE_TIMEOUT_MS", "500"),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &limits, "/readyz").await;
    let within = Duration::from_secs(20);

    let (_, closed) = raw_exchange(
        &server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        within,
    )
    .await;
    assert!(closed, "incomplete headers kept the connection open");

    let mut paused = paused_upload(&server, &app.domain, &app.api_key).await;
    let (answer, closed) = read_until_closed(&mut paused, within).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(closed, "the connection of a timed-out body stays open");

    let request = list_request(&app.domain, &app.api_key, "");
    let (answer, closed) = raw_exchange(&server.addr, request.as_bytes(), within).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle keep-alive connection stays open");
    app.stop().await;
}

#[tokio::test]
async fn connection_and_request_caps_answer_503_and_recover() {
    let app = api_only().await;
    let limits = [
        ("USERHUB__HTTP__MAX_CONNECTIONS", "4"),
        ("USERHUB__HTTP__MAX_IN_FLIGHT", "1"),
        ("USERHUB__HTTP__DOMAIN_SHARE_PERCENT", "100"),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &limits, "/readyz").await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);

    // One request in progress (its body paused) fills the in-flight cap: another domain's
    // request is refused as the server being busy, the same domain's as its share being used.
    let paused = paused_upload(&server, &app.domain, &app.api_key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = format!("{}-other", app.domain);
    let other_key = app.create_domain_with_key(&other, false).await;
    let busy = http
        .get(format!("{}/v2/{other}/identity/bulk_actions", server.base))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVER_BUSY", "{body}");
    let same = http
        .get(&list)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 429);
    let body: Value = same.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "TOO_MANY_CONCURRENT_REQUESTS",
        "{body}"
    );
    let probe = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200, "probes are not counted");
    drop(paused);
    wait_for_status(&http, &list, &app.api_key, 200).await;

    // Connections past the cap are answered 503 and closed.
    let idle = hold_connections(&server.addr, 4).await;
    let request = list_request(&app.domain, &app.api_key, "");
    let (answer, closed) =
        raw_exchange(&server.addr, request.as_bytes(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("SERVER_BUSY") && closed, "{answer}");
    drop(idle);
    wait_for_status(&http, &list, &app.api_key, 200).await;
    app.stop().await;
}

/// Opens connections until `count` of them are held open by the server. One accepted while an
/// earlier connection's slot was not yet free is answered 503 and closed: it is replaced.
async fn hold_connections(addr: &str, count: usize) -> Vec<TcpStream> {
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..50 {
        while held.len() < count {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.retain(|stream| {
            let mut byte = [0u8; 1];
            matches!(stream.try_read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
        });
        if held.len() == count {
            return held;
        }
    }
    panic!("the server did not hold {count} idle connections");
}

async fn wait_for_status(http: &reqwest::Client, url: &str, key: &str, status: u16) {
    for _ in 0..200 {
        let response = http.get(url).bearer_auth(key).send().await;
        if response.is_ok_and(|response| response.status() == status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered {status}");
}

#[tokio::test]
async fn failed_authentications_are_throttled_but_valid_credentials_are_served() {
    let app = api_only().await;
    let operator_token = "9b3e51c07a2f4d68e1c5a0b7f3d92e46";
    let limits = [
        ("USERHUB__HTTP__AUTH_FAILURES_PER_MINUTE", "5"),
        ("USERHUB__OPS__OPERATOR_TOKEN", operator_token),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &limits, "/readyz").await;
    let http = reqwest::Client::new();
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);
    for attempt in 0..5 {
        let guess = format!("uh_{attempt:02}{}", "0".repeat(40));
        let response = http.get(&list).bearer_auth(guess).send().await.unwrap();
        assert_eq!(response.status(), 401, "attempt {attempt}");
        let leaked: Vec<_> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().contains("rate-limit"))
            .collect();
        assert!(leaked.is_empty(), "a 401 shows counters: {leaked:?}");
    }
    // Further failures from the address are refused, wherever they present credentials.
    let failures = [
        http.get(&list).bearer_auth("uh_wrong"),
        http.post(format!("{}/api/external/import/profile", server.base))
            .body(
                json!({"apptoken": "wrong", "columns": ["user_id"], "rows": [["1"]]}).to_string(),
            ),
        http.get(format!("{}/ops/api/overview", server.base))
            .bearer_auth("not-the-operator-token"),
    ];
    for attempt in failures {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after));
        let text = response.text().await.unwrap();
        assert!(text.contains("AUTH_THROTTLED"), "{text}");
        assert!(!text.contains(&app.api_key));
    }
    // Valid credentials from the same address are never refused by the throttle.
    let valid = http
        .get(&list)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(valid.status(), 200);
    let operator = http
        .get(format!("{}/ops/api/overview", server.base))
        .bearer_auth(operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn only_listed_origins_get_credentialed_cors() {
    let app = api_only().await;
    let listed = [(
        "USERHUB__HTTP__CORS_ALLOWED_ORIGINS",
        "https://app.example.com",
    )];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &listed, "/readyz").await;
    let http = reqwest::Client::new();
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);
    let from = |origin: &str| {
        http.get(&list)
            .bearer_auth(&app.api_key)
            .header("origin", origin)
    };

    let foreign = from("https://evil.example").send().await.unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(
        foreign
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let preflight = http
        .request(reqwest::Method::OPTIONS, &list)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let allowed = from("https://app.example.com").send().await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    drop(server);

    // Without the setting no page gets an answer it may read.
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &[], "/readyz").await;
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);
    let response = http
        .get(&list)
        .bearer_auth(&app.api_key)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn demo_mode_answers_only_this_machine() {
    let app = api_only().await;
    let demo = [("USERHUB__HTTP__UNAUTHENTICATED_DOMAIN", app.domain.as_str())];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &demo, "/readyz").await;
    let within = Duration::from_secs(10);
    let ask = |host: &str, origin: Option<&str>| {
        let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
        format!(
            "GET /v2/{}/identity/bulk_actions HTTP/1.1\r\nHost: {host}\r\n{origin}\
             Connection: close\r\n\r\n",
            app.domain
        )
    };
    let port = server.addr.rsplit(':').next().unwrap();
    let cases = [
        (format!("localhost:{port}"), None, "200", ""),
        (
            format!("127.0.0.1:{port}"),
            Some("http://localhost:5173"),
            "200",
            "",
        ),
        (format!("[::1]:{port}"), None, "200", ""),
        (
            format!("attacker.example:{port}"),
            None,
            "403",
            "FORBIDDEN_HOST",
        ),
        (
            format!("localhost:{port}"),
            Some("https://attacker.example"),
            "403",
            "FORBIDDEN_ORIGIN",
        ),
        (
            format!("localhost:{port}"),
            Some("null"),
            "403",
            "FORBIDDEN_ORIGIN",
        ),
    ];
    for (host, origin, status, code) in cases {
        let request = ask(&host, origin);
        let (answer, _) = raw_exchange(&server.addr, request.as_bytes(), within).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")) && answer.contains(code),
            "{host} {origin:?}: {answer}"
        );
    }
    app.stop().await;
}

/// The request-count series of a metrics scrape.
async fn request_series(server: &RunningServer) -> Vec<String> {
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(userhub_tests::METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with("userhub_http_requests_total{"))
        .map(|line| line.rsplit_once(' ').unwrap().0.to_owned())
        .collect()
}

#[tokio::test]
async fn invented_methods_add_no_metrics_series() {
    let app = api_only().await;
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &[], "/readyz").await;
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);
    let known = reqwest::Client::new()
        .get(&list)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 200);
    let invent = |n: usize| {
        format!(
            "INVENTED{n}{} /v2/{}/identity/bulk_actions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Connection: close\r\n\r\n",
            "X".repeat(2000),
            app.domain
        )
    };
    let (answer, _) =
        raw_exchange(&server.addr, invent(0).as_bytes(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    let before = request_series(&server).await;
    assert!(
        before
            .iter()
            .any(|series| series.contains("method=\"GET\"")),
        "{before:#?}"
    );
    for n in 1..=30 {
        raw_exchange(&server.addr, invent(n).as_bytes(), Duration::from_secs(10)).await;
    }
    let after = request_series(&server).await;
    assert!(
        after.iter().all(|series| !series.contains("INVENTED")),
        "{after:#?}"
    );
    // At most one series more: invented methods share the label `other`.
    assert!(after.len() <= before.len() + 1, "{before:#?} -> {after:#?}");
    app.stop().await;
}

/// A download that reads its first bytes and then nothing, through a small receive buffer.
async fn stalled_download(server: &RunningServer, path: &str, key: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = [0u8; 1024];
    let read = stream.read(&mut first).await.unwrap();
    assert!(
        String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..read])
    );
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_downloads_hold_no_connection_and_are_capped_per_domain() {
    let app = api_only().await;
    let limits = [
        ("USERHUB__STATUS__DOWNLOADS_PER_DOMAIN", "2"),
        ("USERHUB__STATUS__DOWNLOAD_IDLE_TIMEOUT_MS", "1500"),
        // The domain's window is shared with the in-process API, whose status polls count too:
        // this process must allow what the test's settings allow, not the default 60.
        ("USERHUB__RATE_LIMIT__PER_MINUTE", "100000"),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &limits, "/readyz").await;
    // 9 000 profiles of about 1.3 KB each: far more than the socket buffers hold.
    let filler = "f".repeat(250);
    let records: Vec<Value> = (0..9_000)
        .map(|n| {
            json!({"identities": [{"uid": format!("big-{n}")}], "custom_fields": {
                "a": filler, "b": filler, "c": filler, "d": filler, "e": filler}})
        })
        .collect();
    let created = app.create_task("create_core_profiles", &records).await;
    app.wait_completed(created).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let export = app
        .create_task("get_core_profiles", &[json!({"all": true})])
        .await;
    app.wait_completed(export).await;
    let path = format!(
        "/v2/{}/identity/bulk_actions/{export}/results?format=ndjson",
        app.domain
    );

    let response = http
        .get(format!("{}{path}", server.base))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let size = body.len();
    assert!(
        size > 8_000_000,
        "the download ({size} bytes) fits in socket buffers"
    );
    let mut first = stalled_download(&server, &path, &app.api_key).await;
    let mut second = stalled_download(&server, &path, &app.api_key).await;
    let third = http
        .get(format!("{}{path}", server.base))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert!(third.text().await.unwrap().contains("TOO_MANY_DOWNLOADS"));

    // Neither stalled download keeps a database connection busy: a connection they held would be
    // busy at every look, while the processes' background jobs are busy only for a moment.
    let mut busy = Vec::new();
    for _ in 0..20 {
        let now = app
            .query_json(
                "SELECT count(*) AS n FROM pg_stat_activity \
                  WHERE datname = current_database() AND pid <> pg_backend_pid() \
                    AND state IN ('active', 'idle in transaction')",
            )
            .await;
        busy.push(now[0]["n"].as_i64().unwrap());
        if busy.last() == Some(&0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        busy.last(),
        Some(&0),
        "a stalled download holds a connection: {busy:?}"
    );

    // Past the idle deadline both are ended, and their slots are free again.
    let (_, closed) = read_until_closed(&mut first, Duration::from_secs(30)).await;
    assert!(closed);
    let (_, closed) = read_until_closed(&mut second, Duration::from_secs(30)).await;
    assert!(closed);
    let mut complete = None;
    for _ in 0..100 {
        let response = http
            .get(format!("{}{path}", server.base))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            complete = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let complete = complete.expect("a download slot became free");
    assert_eq!(complete.lines().count(), 9_000);
    drop(server);

    // Whatever the answer, a client that reads nothing is cut off by the server loop itself
    // (here long before the download's own idle deadline), and what it held is freed.
    let limits = [
        ("USERHUB__STATUS__DOWNLOADS_PER_DOMAIN", "1"),
        ("USERHUB__STATUS__DOWNLOAD_IDLE_TIMEOUT_MS", "600000"),
        ("USERHUB__HTTP__WRITE_TIMEOUT_MS", "1000"),
        ("USERHUB__RATE_LIMIT__PER_MINUTE", "100000"),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &limits, "/readyz").await;
    let mut stalled = stalled_download(&server, &path, &app.api_key).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (answer, closed) = read_until_closed(&mut stalled, Duration::from_secs(60)).await;
    assert!(closed, "a client that reads nothing keeps its connection");
    assert!(
        answer.len() < size,
        "the whole download arrived ({} bytes): nothing was cut off",
        answer.len()
    );
    let again = http
        .get(format!("{}{path}", server.base))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the cut-off download's slot is free");
    assert_eq!(again.text().await.unwrap().lines().count(), 9_000);
    app.stop().await;
}
