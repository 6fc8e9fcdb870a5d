//! Resumable uploads (EXT, tus 1.0.0) at `/v2/{domain}/uploads`: creation (with and without
//! bytes), HEAD, PATCH at the right offset only, termination and expiry, tenancy and read-only
//! keys; an unmodified tus client completes an upload, and an upload broken off on one server
//! process resumes on another.

use futures_util::{StreamExt, stream};
use reqwest::{Method, Response};
use std::path::PathBuf;
use userhub_tests::TestApp;

const TUS: (&str, &str) = ("tus-resumable", "1.0.0");
const BYTES: &str = "application/offset+octet-stream";

fn uploads_url(app: &TestApp) -> String {
    format!("{}/v2/{}/uploads", app.base_url, app.domain)
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

/// `filename people.jsonl` as tus metadata.
const METADATA: &str = "filename cGVvcGxlLmpzb25s";

async fn request(
    app: &TestApp,
    key: &str,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Response {
    let mut builder = app
        .client
        .request(method, url)
        .header("authorization", format!("Bearer {key}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).send().await.unwrap()
}

/// Creates an upload of `length` bytes; its absolute URL.
async fn create(app: &TestApp, length: usize) -> String {
    let length = length.to_string();
    let response = request(
        app,
        &app.api_key,
        Method::POST,
        &uploads_url(app),
        &[
            TUS,
            ("upload-length", &length),
            ("upload-metadata", METADATA),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "tus-resumable").as_deref(), Some("1.0.0"));
    assert_eq!(header(&response, "upload-offset").as_deref(), Some("0"));
    assert!(header(&response, "upload-expires").is_some());
    let location = header(&response, "location").unwrap();
    assert!(
        location.starts_with(&format!("/v2/{}/uploads/", app.domain)),
        "{location}"
    );
    format!("{}{location}", app.base_url)
}

async fn patch(app: &TestApp, url: &str, offset: usize, bytes: &[u8]) -> Response {
    let offset = offset.to_string();
    request(
        app,
        &app.api_key,
        Method::PATCH,
        url,
        &[TUS, ("upload-offset", &offset), ("content-type", BYTES)],
        bytes.to_vec(),
    )
    .await
}

async fn offset_of(app: &TestApp, key: &str, url: &str) -> (u16, Option<String>) {
    let response = request(app, key, Method::HEAD, url, &[TUS], Vec::new()).await;
    (
        response.status().as_u16(),
        header(&response, "upload-offset"),
    )
}

/// The stored bytes of the domain's only upload, in order.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    let rows = app
        .query_json("SELECT encode(bytes, 'base64') AS b FROM upload_parts ORDER BY start_offset")
        .await;
    use base64::Engine;
    rows.as_array()
        .unwrap()
        .iter()
        .flat_map(|part| {
            let text: String = part["b"].as_str().unwrap().split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn uploads_are_created_patched_at_their_offset_and_terminated() {
    let app = TestApp::spawn_with(|settings| settings.gateway.upload_part_bytes = 3).await;
    let options = request(
        &app,
        &app.api_key,
        Method::OPTIONS,
        &uploads_url(&app),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(
        header(&options, "tus-extension").as_deref(),
        Some("creation,creation-with-upload,termination,expiration")
    );
    assert_eq!(
        header(&options, "tus-max-size").as_deref(),
        Some("1073741824")
    );

    let url = create(&app, 10).await;
    let head = request(&app, &app.api_key, Method::HEAD, &url, &[TUS], Vec::new()).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-length").as_deref(), Some("10"));
    assert_eq!(header(&head, "cache-control").as_deref(), Some("no-store"));
    let first = patch(&app, &url, 0, b"0123").await;
    assert_eq!(first.status(), 204);
    assert_eq!(header(&first, "upload-offset").as_deref(), Some("4"));
    let stale = patch(&app, &url, 0, b"0123").await;
    assert_eq!(stale.status(), 409);
    assert_eq!(header(&stale, "upload-offset").as_deref(), Some("4"));
    let wrong_type = request(
        &app,
        &app.api_key,
        Method::PATCH,
        &url,
        &[TUS, ("upload-offset", "4"), ("content-type", "text/plain")],
        b"45".to_vec(),
    )
    .await;
    assert_eq!(wrong_type.status(), 415);
    let no_tus = request(
        &app,
        &app.api_key,
        Method::PATCH,
        &url,
        &[("upload-offset", "4"), ("content-type", BYTES)],
        b"45".to_vec(),
    )
    .await;
    assert_eq!(no_tus.status(), 412);
    assert_eq!(header(&no_tus, "tus-version").as_deref(), Some("1.0.0"));
    let too_long = patch(&app, &url, 4, b"4567890").await;
    assert_eq!(too_long.status(), 400);
    assert_eq!(
        offset_of(&app, &app.api_key, &url).await.1.as_deref(),
        Some("4")
    );
    let last = patch(&app, &url, 4, b"456789").await;
    assert_eq!(last.status(), 204);
    assert_eq!(header(&last, "upload-offset").as_deref(), Some("10"));
    assert!(
        header(&last, "upload-expires").is_none(),
        "a complete upload has no Upload-Expires"
    );
    assert_eq!(stored_bytes(&app).await, b"0123456789");

    let deleted = request(&app, &app.api_key, Method::DELETE, &url, &[TUS], Vec::new()).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(offset_of(&app, &app.api_key, &url).await.0, 404);
    assert!(
        stored_bytes(&app).await.is_empty(),
        "the bytes went with it"
    );

    // Creation with upload: the first bytes in the POST.
    let response = request(
        &app,
        &app.api_key,
        Method::POST,
        &uploads_url(&app),
        &[
            TUS,
            ("upload-length", "5"),
            ("upload-metadata", METADATA),
            ("content-type", BYTES),
        ],
        b"abcde".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "upload-offset").as_deref(), Some("5"));
    assert_eq!(stored_bytes(&app).await, b"abcde");
    app.stop().await;
}

#[tokio::test]
async fn uploads_belong_to_their_domain_need_a_writing_key_and_expire() {
    let app = TestApp::spawn().await;
    let url = create(&app, 4).await;
    let other = app.create_domain_with_key("other-uploads", false).await;
    let other_url = url.replace(&app.domain, "other-uploads");
    assert_eq!(offset_of(&app, &other, &other_url).await.0, 404);
    let reader = app.create_domain_with_key(&app.domain, true).await;
    assert_eq!(
        offset_of(&app, &reader, &url).await.0,
        200,
        "a read-only key may look"
    );
    for (method, headers) in [
        (
            Method::POST,
            vec![TUS, ("upload-length", "4"), ("upload-metadata", METADATA)],
        ),
        (
            Method::PATCH,
            vec![TUS, ("upload-offset", "0"), ("content-type", BYTES)],
        ),
        (Method::DELETE, vec![TUS]),
    ] {
        let target = if method == Method::POST {
            uploads_url(&app)
        } else {
            url.clone()
        };
        let refused = request(&app, &reader, method.clone(), &target, &headers, Vec::new()).await;
        assert_eq!(refused.status(), 403, "{method}");
    }
    let unknown_type = request(
        &app,
        &app.api_key,
        Method::POST,
        &uploads_url(&app),
        &[
            TUS,
            ("upload-length", "4"),
            ("upload-metadata", "filename bm90ZXMudHh0"),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(
        unknown_type.status(),
        400,
        "notes.txt names no record format"
    );
    let huge = request(
        &app,
        &app.api_key,
        Method::POST,
        &uploads_url(&app),
        &[
            TUS,
            ("upload-length", "1073741825"),
            ("upload-metadata", METADATA),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(huge.status(), 413);
    app.execute("UPDATE uploads SET expires_at = now() - interval '1 minute'")
        .await;
    assert_eq!(offset_of(&app, &app.api_key, &url).await.0, 410);
    assert_eq!(patch(&app, &url, 0, b"ab").await.status(), 410);
    app.stop().await;
}

#[tokio::test]
async fn an_unmodified_tus_client_completes_an_upload() {
    let app = TestApp::spawn_with(|settings| settings.gateway.upload_part_bytes = 4096).await;
    let lines: String = (0..2_000)
        .map(|n| {
            format!(
                "{{\"identities\":[{{\"uid\":\"tus-{n}\"}}],\"age\":{}}}\n",
                n % 90 + 1
            )
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("uh-tus-{}", userhub_tests::random_hex(4)));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("people.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/tus_upload.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(uploads_url(&app))
        .arg(&app.api_key)
        .arg(&file)
        .arg("10000")
        .output()
        .await
        .expect("run `make tools` for the Python test tools");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(url.contains("/uploads/"), "{url}");
    assert_eq!(stored_bytes(&app).await, lines.as_bytes());
    let (status, offset) = offset_of(&app, &app.api_key, &url).await;
    assert_eq!((status, offset), (200, Some(lines.len().to_string())));
    let _ = std::fs::remove_dir_all(dir);
    app.stop().await;
}

#[tokio::test]
async fn an_upload_broken_off_on_one_process_resumes_on_another() {
    let first = TestApp::spawn_with(|settings| settings.gateway.upload_part_bytes = 1000).await;
    let data: Vec<u8> = (0..10_000u32).map(|n| (n % 251) as u8).collect();
    let url = create(&first, data.len()).await;
    // A body that breaks off after 2 500 bytes, as a dropped connection does.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(data[..1_500].to_vec()),
        Ok(data[1_500..2_500].to_vec()),
        Err(std::io::Error::other("connection dropped")),
    ];
    let broken = first
        .client
        .patch(&url)
        .header("authorization", format!("Bearer {}", first.api_key))
        .header(TUS.0, TUS.1)
        .header("upload-offset", "0")
        .header("content-type", BYTES)
        .body(reqwest::Body::wrap_stream(stream::iter(pieces).then(
            |piece| async move {
                // Paced, so that each piece leaves the client before the connection drops.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                piece
            },
        )))
        .send()
        .await;
    assert!(broken.is_err(), "the client saw its body break");

    let database = first.settings.database.url.clone();
    let second = TestApp::spawn_with(|settings| settings.database.url = database).await;
    let second_url = url.replace(&first.base_url, &second.base_url);
    // The server keeps what arrived before the break (once it has noticed it).
    let mut resumed_at = 0;
    for _ in 0..100 {
        let (status, offset) = offset_of(&second, &first.api_key, &second_url).await;
        assert_eq!(status, 200);
        resumed_at = offset.unwrap().parse().unwrap();
        if resumed_at == 2_500 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(resumed_at, 2_500, "every byte before the break was kept");
    let key = first.api_key.clone();
    first.stop_keeping_database().await;
    let offset = resumed_at.to_string();
    let rest = request(
        &second,
        &key,
        Method::PATCH,
        &second_url,
        &[TUS, ("upload-offset", &offset), ("content-type", BYTES)],
        data[resumed_at..].to_vec(),
    )
    .await;
    assert_eq!(rest.status(), 204);
    assert_eq!(header(&rest, "upload-offset").as_deref(), Some("10000"));
    assert_eq!(stored_bytes(&second).await, data);
    second.stop().await;
}

#[tokio::test]
async fn a_domain_s_unused_uploads_are_bounded_in_bytes_and_other_domains_are_not_affected() {
    let app = TestApp::spawn_with(|settings| settings.gateway.upload_domain_max_bytes = 100).await;
    let first = create(&app, 60).await;
    let over = request(
        &app,
        &app.api_key,
        Method::POST,
        &uploads_url(&app),
        &[TUS, ("upload-length", "50"), ("upload-metadata", METADATA)],
        Vec::new(),
    )
    .await;
    assert_eq!(over.status(), 413);
    let body: serde_json::Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPLOAD_QUOTA_EXCEEDED", "{body}");
    assert_eq!(body["error"]["details"]["limit_bytes"], 100);
    // Another domain has a quota of its own.
    let other = app.create_domain_with_key("quota-elsewhere", false).await;
    let elsewhere = request(
        &app,
        &other,
        Method::POST,
        &format!("{}/v2/quota-elsewhere/uploads", app.base_url),
        &[TUS, ("upload-length", "90"), ("upload-metadata", METADATA)],
        Vec::new(),
    )
    .await;
    assert_eq!(elsewhere.status(), 201);
    // Deleting an upload gives its bytes back.
    let deleted = request(
        &app,
        &app.api_key,
        Method::DELETE,
        &first,
        &[TUS],
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    create(&app, 50).await;
    app.stop().await;
}

#[tokio::test]
async fn a_tus_client_in_a_page_of_an_allowed_origin_may_send_and_read_the_tus_headers() {
    const ORIGIN: &str = "https://app.example.com";
    let app = TestApp::spawn_with(|settings| {
        settings.http.cors_allowed_origins = vec![ORIGIN.to_owned()];
    })
    .await;
    // The browser's preflight carries no key and is answered before any is asked for.
    let preflight = request(
        &app,
        "not-a-key",
        Method::OPTIONS,
        &format!("{}/some-upload", uploads_url(&app)),
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "PATCH"),
            (
                "access-control-request-headers",
                "tus-resumable,upload-offset,content-type",
            ),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(preflight.status(), 204);
    let methods = header(&preflight, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("PATCH") && methods.contains("HEAD"),
        "{methods}"
    );
    let allowed = header(&preflight, "access-control-allow-headers").unwrap();
    for name in [
        "Tus-Resumable",
        "Upload-Offset",
        "Upload-Length",
        "Upload-Metadata",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    // The answers show a page the headers a tus client reads.
    let url = create(&app, 4).await;
    let head = request(
        &app,
        &app.api_key,
        Method::HEAD,
        &url,
        &[TUS, ("origin", ORIGIN)],
        Vec::new(),
    )
    .await;
    let exposed = header(&head, "access-control-expose-headers").unwrap();
    for name in [
        "Upload-Offset",
        "Upload-Length",
        "Tus-Resumable",
        "Location",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // The rest of the API keeps the original API's methods.
    let tasks = app
        .authorized(app.client.get(format!("{}/limits", app.tasks_url())))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&tasks, "access-control-allow-methods").as_deref(),
        Some("GET, POST, PUT, DELETE, OPTIONS")
    );
    app.stop().await;
}

/// The compression method, raw length and stored size of each of the domain's parts, in order.
async fn stored_parts(app: &TestApp) -> Vec<(Option<String>, i64, i64)> {
    let rows = app
        .query_json(
            "SELECT pg_column_compression(bytes) AS method, octet_length(bytes) AS raw, \
             pg_column_size(bytes) AS stored FROM upload_parts ORDER BY start_offset",
        )
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|part| {
            (
                part["method"].as_str().map(str::to_owned),
                part["raw"].as_i64().unwrap(),
                part["stored"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn parts_are_stored_compressed_when_that_shrinks_them_and_read_back_exactly() {
    let app = TestApp::spawn_with(|settings| settings.gateway.upload_part_bytes = 64 << 10).await;
    let lines: String = (0..3_000)
        .map(|n| format!("{{\"identities\":[{{\"uid\":\"lz-{n}\"}}],\"first_name\":\"Ada\"}}\n"))
        .collect();
    let url = create(&app, lines.len()).await;
    assert_eq!(patch(&app, &url, 0, lines.as_bytes()).await.status(), 204);
    let parts = stored_parts(&app).await;
    assert!(parts.len() >= 2, "{parts:?}");
    for (method, raw, stored) in &parts {
        assert_eq!(method.as_deref(), Some("lz4"), "{parts:?}");
        assert!(stored * 3 < *raw, "JSON lines shrink: {parts:?}");
    }
    assert_eq!(stored_bytes(&app).await, lines.as_bytes());
    let deleted = request(&app, &app.api_key, Method::DELETE, &url, &[TUS], Vec::new()).await;
    assert_eq!(deleted.status(), 204);

    // Bytes that do not compress (gzip already, say) are stored as they came.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let url = create(&app, noise.len()).await;
    assert_eq!(patch(&app, &url, 0, &noise).await.status(), 204);
    let parts = stored_parts(&app).await;
    assert!(
        parts
            .iter()
            .all(|(method, raw, stored)| method.is_none() && stored >= raw),
        "{parts:?}"
    );
    assert_eq!(stored_bytes(&app).await, noise);
    app.stop().await;
}
