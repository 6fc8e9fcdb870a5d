//! One client or one tenant cannot take the service from the others. Each test is an attack on
//! a `userhub-server all` process — slow uploads without a key and from one tenant, idle
//! connections, guessed keys from a shared address, forged client addresses — with the
//! victim's answers (and the process's memory) as what is checked. Attackers connect from
//! other loopback addresses (127.0.0.x) than the victim, as separate clients would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use userhub_tests::hostile::{RunningServer, client_from, connect_from, raw_exchange};
use userhub_tests::{Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");
/// Attack connections in each flood.
const FLOOD: usize = 300;

async fn api_only() -> TestApp {
    TestApp::spawn_service(Service::Api, |_| {}).await
}

/// What one attack connection saw.
#[derive(Debug)]
struct Seen {
    status: String,
    body: String,
    closed: bool,
    answered_after: Duration,
}

/// Sends `head` and the first byte of a body announced as 10 MB, then trickles a byte a second
/// until the server answers (or `within` passes).
async fn slow_upload(source: String, addr: String, head: String, within: Duration) -> Seen {
    let started = Instant::now();
    let Ok(mut stream) = connect_from(&source, &addr).await else {
        return Seen {
            status: "connect failed".into(),
            body: String::new(),
            closed: true,
            answered_after: started.elapsed(),
        };
    };
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    let mut closed = false;
    let mut answered_after = within;
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => { closed = true; break; }
                Ok(n) => {
                    if answer.is_empty() {
                        answered_after = started.elapsed();
                    }
                    answer.extend_from_slice(&buffer[..n]);
                }
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                let _ = stream.write_all(b"x").await;
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    Seen {
        status: text.get(9..12).unwrap_or("").to_owned(),
        body: text,
        closed,
        answered_after,
    }
}

fn upload_head(path: &str, authorization: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{"
    )
}

/// Starts `count` slow uploads from 127.0.0.`first`.. (30 per address).
fn flood(
    attacks: &mut JoinSet<Seen>,
    server: &RunningServer,
    first: usize,
    count: usize,
    head: impl Fn(usize) -> String,
) {
    for n in 0..count {
        let source = format!("127.0.0.{}", first + n / 30);
        attacks.spawn(slow_upload(
            source,
            server.addr.clone(),
            head(n),
            Duration::from_secs(40),
        ));
    }
}

/// The victim's status read and small import, with how long each took.
async fn victim_requests(server: &RunningServer, domain: &str, key: &str, task: u64) -> Duration {
    let http = client_from("127.0.0.1");
    let tasks = format!("{}/v2/{domain}/identity/bulk_actions", server.base);
    let started = Instant::now();
    let status = http
        .get(format!("{tasks}/{task}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let read = started.elapsed();
    assert_eq!(status.status(), 200, "{}", status.text().await.unwrap());
    let started = Instant::now();
    let import = http
        .post(&tasks)
        .bearer_auth(key)
        .json(&json!({"action": "create_core_profiles", "payload": [
            {"identities": [{"uid": format!("victim-{}", userhub_tests::random_hex(4))}]}]}))
        .send()
        .await
        .unwrap();
    let imported = started.elapsed();
    assert_eq!(import.status(), 201, "{}", import.text().await.unwrap());
    println!("under attack: status read {read:?}, import {imported:?}");
    read.max(imported)
}

async fn existing_task(server: &RunningServer, domain: &str, key: &str) -> u64 {
    let created: Value = client_from("127.0.0.1")
        .post(format!("{}/v2/{domain}/identity/bulk_actions", server.base))
        .bearer_auth(key)
        .json(&json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "v0"}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["task_id"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_without_a_key_leave_another_tenants_requests_served() {
    let app = api_only().await;
    let env = [("USERHUB__RATE_LIMIT__PER_MINUTE", "100000")];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let task = existing_task(&server, &app.domain, &app.api_key).await;
    let mut native = JoinSet::new();
    let path = format!("/v2/{}/identity/bulk_actions", app.domain);
    flood(&mut native, &server, 10, FLOOD, |n| {
        let guess = format!("uh_{n:012x}_{}", "0".repeat(48));
        upload_head(&path, &format!("Authorization: Bearer {guess}\r\n"))
    });
    // Compatible endpoints read their token from the body: these never send it.
    let mut compat = JoinSet::new();
    flood(&mut compat, &server, 30, 100, |_| {
        upload_head("/api/external/import/profile", "").replace("{", "{\"apptoken\": \"")
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waited = victim_requests(&server, &app.domain, &app.api_key, task).await;
    assert!(
        waited < Duration::from_secs(10),
        "the victim waited {waited:?}"
    );

    let native = native.join_all().await;
    let slowest = native.iter().map(|seen| seen.answered_after).max().unwrap();
    println!("{FLOOD} keyless slow uploads: the slowest was answered after {slowest:?}");
    for seen in &native {
        assert!(
            matches!(seen.status.as_str(), "401" | "429"),
            "a keyless upload got: {}",
            seen.body
        );
        assert!(seen.closed, "a refused upload's connection stays open");
        assert!(!seen.body.contains("100 Continue"));
    }
    assert!(
        slowest < Duration::from_secs(10),
        "refusals were not at once"
    );
    let compat = compat.join_all().await;
    for seen in &compat {
        assert!(
            matches!(seen.status.as_str(), "401" | "429" | "503"),
            "a tokenless compatible upload got: {}",
            seen.body
        );
        assert!(seen.closed && seen.answered_after < Duration::from_secs(15));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_slow_uploads_leave_another_tenants_requests_served() {
    let app = api_only().await;
    let attacker = format!("{}-flood", app.domain);
    let attacker_key = app.create_domain_with_key(&attacker, false).await;
    let env = [("USERHUB__RATE_LIMIT__PER_MINUTE", "100000")];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let task = existing_task(&server, &app.domain, &app.api_key).await;
    let mut attacks = JoinSet::new();
    let path = format!("/v2/{attacker}/identity/bulk_actions");
    let authorization = format!("Authorization: Bearer {attacker_key}\r\n");
    flood(&mut attacks, &server, 50, FLOOD, |_| {
        upload_head(&path, &authorization)
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waited = victim_requests(&server, &app.domain, &app.api_key, task).await;
    assert!(
        waited < Duration::from_secs(10),
        "the victim waited {waited:?}"
    );
    // The attacker's uploads past its share were refused at once; the rest hold its share.
    let refused = attacks
        .join_all()
        .await
        .into_iter()
        .filter(|seen| {
            seen.status == "429"
                && seen.body.contains("TOO_MANY_CONCURRENT_REQUESTS")
                && seen.answered_after < Duration::from_secs(10)
        })
        .count();
    println!("{refused} of the tenant's {FLOOD} slow uploads were refused at once");
    assert_eq!(refused, FLOOD - 64, "the default share is 64 of 256 slots");
    app.stop().await;
}

/// Resident memory of the server process, in KiB.
async fn settled_rss(server: &RunningServer) -> u64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.resident_kib()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cost_little_memory() {
    let app = api_only().await;
    let env = [("USERHUB__HTTP__HEADER_READ_TIMEOUT_MS", "120000")];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let before = settled_rss(&server).await;
    let mut held: Vec<TcpStream> = Vec::new();
    for n in 0..500 {
        let source = format!("127.0.0.{}", 70 + n / 50);
        let mut stream = connect_from(&source, &server.addr).await.unwrap();
        if n % 2 == 1 {
            // Half of them start a request head as large as the server takes, and stop.
            let head = format!("GET /healthz HTTP/1.1\r\nX-Pad: {}", "p".repeat(30_000));
            stream.write_all(head.as_bytes()).await.unwrap();
        }
        held.push(stream);
    }
    let after = settled_rss(&server).await;
    let open = held
        .iter()
        .filter(|stream| {
            let mut byte = [0u8; 1];
            matches!(stream.try_read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert_eq!(open, 500, "the server holds every connection");
    let added_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    println!("500 idle connections (250 with 30 KB half-sent heads): +{added_mib:.1} MiB RSS");
    assert!(added_mib < 32.0, "+{added_mib:.1} MiB");
    drop(held);
    app.stop().await;
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let app = api_only().await;
    let env = [("USERHUB__HTTP__MAX_CONNECTIONS_PER_ADDRESS", "5")];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.80", &server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sixth = connect_from("127.0.0.80", &server.addr).await.unwrap();
    sixth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) =
        userhub_tests::hostile::read_until_closed(&mut sixth, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("TOO_MANY_CONNECTIONS") && closed,
        "{answer}"
    );
    let other = client_from("127.0.0.81")
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another address is not affected");
    drop(held);
    app.stop().await;
}

async fn list_status(source: &str, server: &RunningServer, domain: &str, key: &str) -> u16 {
    client_from(source)
        .get(format!("{}/v2/{domain}/identity/bulk_actions", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_valid_key_is_served_after_many_bad_ones_from_its_address() {
    let app = api_only().await;
    // Dual-stack: IPv4 clients arrive as IPv4-mapped IPv6 addresses.
    let listen = format!("[::]:{}", userhub_tests::free_port());
    let server =
        RunningServer::start_listening(SERVER, &app.settings, &["all"], &[], "/readyz", &listen)
            .await;
    let (domain, key) = (&app.domain, &app.api_key);
    let mut answers = Vec::new();
    for n in 0..30 {
        let guess = format!("uh_{n:012x}_{}", "0".repeat(48));
        answers.push(list_status("127.0.0.90", &server, domain, &guess).await);
    }
    assert_eq!(&answers[..20], &[401; 20]);
    assert_eq!(&answers[20..], &[429; 10]);
    assert_eq!(list_status("127.0.0.90", &server, domain, key).await, 200);
    // A neighbour on the same /64 of mapped addresses is a different client.
    assert_eq!(
        list_status("127.0.0.91", &server, domain, "uh_x").await,
        401
    );

    // Guesses at one key from many addresses: the key id is throttled, the key still works.
    let key_id = key.split('_').nth(1).unwrap();
    let mut answers = Vec::new();
    for n in 0..25 {
        let guess = format!("uh_{key_id}_{:048x}", n);
        let source = format!("127.0.1.{}", n + 1);
        answers.push(list_status(&source, &server, domain, &guess).await);
    }
    assert_eq!(&answers[..20], &[401; 20]);
    assert_eq!(&answers[20..], &[429; 5]);
    assert_eq!(list_status("127.0.1.200", &server, domain, key).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn client_addresses_come_from_the_trusted_proxy_only() {
    let app = api_only().await;
    let env = [
        ("USERHUB__HTTP__CLIENT_ADDRESS_HEADER", "X-Forwarded-For"),
        ("USERHUB__HTTP__TRUSTED_PROXIES", "127.0.0.100"),
        ("USERHUB__HTTP__AUTH_FAILURES_PER_MINUTE", "3"),
        ("USERHUB__HTTP__MAX_CONNECTIONS_PER_ADDRESS", "2"),
    ];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let list = format!("{}/v2/{}/identity/bulk_actions", server.base, app.domain);
    // One keep-alive client per source, so that the per-address connection cap stays out of it.
    let (forger, proxy) = (client_from("127.0.0.101"), client_from("127.0.0.100"));
    let guess = |client: &reqwest::Client, forwarded: &str| {
        client
            .get(&list)
            .bearer_auth("uh_wrong")
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // A client that forges the header is counted as itself.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(guess(&forger, "198.51.100.1").await.unwrap().status());
    }
    assert_eq!(answers, [401, 401, 401, 429]);
    let through_proxy = guess(&proxy, "198.51.100.1").await.unwrap();
    assert_eq!(
        through_proxy.status(),
        401,
        "the forged address was not charged"
    );
    // Through the proxy, each client counts by the address the proxy saw.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(guess(&proxy, "203.0.113.5").await.unwrap().status());
    }
    assert_eq!(answers, [401, 401, 401, 429]);
    assert_eq!(guess(&proxy, "203.0.113.6").await.unwrap().status(), 401);
    // The proxy carries many clients: its connections are not capped per address.
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut stream = connect_from("127.0.0.100", &server.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        held.push(stream);
    }
    app.stop().await;
}

#[tokio::test]
async fn refused_uploads_are_answered_at_once_and_their_bodies_never_read() {
    let app = api_only().await;
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &[], "/readyz").await;
    let within = Duration::from_secs(10);
    let path = format!("/v2/{}/identity/bulk_actions", app.domain);
    // Expect: 100-continue gets the refusal, not 100.
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer uh_nope\r\n\
         Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
    );
    let started = Instant::now();
    let (answer, closed) = raw_exchange(&server.addr, request.as_bytes(), within).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(
        closed && started.elapsed() < Duration::from_secs(5),
        "{answer}"
    );
    // A valid key's upload over the body limit is refused from its headers alone.
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
        app.api_key
    );
    let (answer, closed) = raw_exchange(&server.addr, request.as_bytes(), within).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(closed && !answer.contains("100 Continue"), "{answer}");
    // A client that writes its whole body before it reads (as hyper's does) reads the refusal,
    // not a reset: the server drops what still arrives for a moment before it closes.
    let http = reqwest::Client::new();
    for attempt in 0..5 {
        let answer = http
            .post(format!("{}{path}", server.base))
            .bearer_auth("uh_nope")
            .header("content-type", "application/json")
            .body(vec![b' '; 24 * 1024 * 1024])
            .send()
            .await;
        let answer = answer.unwrap_or_else(|error| panic!("attempt {attempt}: {error:?}"));
        assert_eq!(answer.status(), 401, "attempt {attempt}");
    }
    app.stop().await;
}

#[tokio::test]
async fn request_heads_with_bare_line_feeds_are_refused() {
    let app = api_only().await;
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &[], "/readyz").await;
    let within = Duration::from_secs(10);
    let cases: [&[u8]; 3] = [
        b"GET /healthz HTTP/1.1\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\n",
    ];
    for request in cases {
        let (answer, _) = raw_exchange(&server.addr, request, within).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{request:?}: {answer}");
    }
    let (answer, _) = raw_exchange(
        &server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        within,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The second request of a keep-alive connection is checked too, after a body with LFs
    // (read to its end: it is refused for its content, so the connection stays open).
    let body = "{\"action\": \"nothing\",\n \"payload\": []}\n";
    let pipelined = format!(
        "POST /v2/{}/identity/bulk_actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}\
         GET /healthz HTTP/1.1\nHost: x\r\n\r\n",
        app.domain,
        app.api_key,
        body.len()
    );
    let (answer, _) = raw_exchange(&server.addr, pipelined.as_bytes(), within).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("INVALID_ACTION"), "{answer}");
    let second = answer.rsplit("HTTP/1.1 ").next().unwrap();
    assert!(
        answer.matches("HTTP/1.1 ").count() == 2 && second.starts_with("400"),
        "{answer}"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_not_anonymous_on_the_public_listener() {
    let app = api_only().await;
    let metrics_port = userhub_tests::free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let env = [("USERHUB__HTTP__METRICS_ADDR", metrics_addr.as_str())];
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &env, "/readyz").await;
    let http = reqwest::Client::new();
    let public = format!("{}/metrics", server.base);
    assert_eq!(http.get(&public).send().await.unwrap().status(), 401);
    let with_token = http
        .get(&public)
        .bearer_auth(userhub_tests::METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
    let private = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    assert!(
        private
            .text()
            .await
            .unwrap()
            .contains("userhub_db_pool_connections")
    );
    // Only the probes and metrics are served there.
    let api = http
        .get(format!(
            "http://{metrics_addr}/v2/{}/identity/bulk_actions",
            app.domain
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn webhook_routes_answer_on_the_status_service() {
    let app = api_only().await;
    let server = RunningServer::start(SERVER, &app.settings, &["status"], &[], "/readyz").await;
    let listed = reqwest::Client::new()
        .get(format!("{}/v2/{}/webhooks", server.base, app.domain))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(listed.json::<Value>().await.unwrap(), json!([]));
    let removed = reqwest::Client::new()
        .delete(format!("{}/v2/{}/webhooks/5", server.base, app.domain))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 404, "answered by the webhook routes");
    assert!(removed.text().await.unwrap().contains("WEBHOOK_NOT_FOUND"));
    app.stop().await;
}
