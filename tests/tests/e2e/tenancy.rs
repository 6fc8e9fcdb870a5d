//! Authentication and tenant isolation: keys open one domain; other domains' tasks are 404;
//! read-only keys cannot start write tasks.

use base64::Engine;
use serde_json::Value;
use userhub_tests::TestApp;
use userhub_tests::fixtures::{seed_payload, seed_records};

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn other_domains_cannot_see_a_task_and_keys_only_open_their_own_domain() {
    let app = TestApp::spawn().await;
    let task_id = app
        .create_task("create_core_profiles", &seed_records())
        .await;
    app.wait_completed(task_id).await;
    let other_key = app.create_domain_with_key("other-tenant", false).await;
    for suffix in ["", "/results", "/errors"] {
        let url = format!(
            "{}/v2/other-tenant/identity/bulk_actions/{task_id}{suffix}",
            app.base_url
        );
        let response = app
            .client
            .get(url)
            .bearer_auth(&other_key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(response).await,
            (404, "TASK_NOT_FOUND".to_owned()),
            "cross-tenant {suffix}"
        );
    }
    let wrong_domain = app
        .client
        .get(app.task_url(task_id))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_domain.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        code_of(wrong_domain).await,
        (401, "UNAUTHORIZED".to_owned())
    );
    app.stop().await;
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_are_401_and_basic_auth_works() {
    let app = TestApp::spawn().await;
    let none = app.client.get(app.task_url(1)).send().await.unwrap();
    assert!(
        !none.headers().contains_key("x-rate-limit-limit"),
        "a caller without the key learns nothing of the domain's traffic"
    );
    assert_eq!(code_of(none).await, (401, "UNAUTHORIZED".to_owned()));
    let garbage = app
        .client
        .get(app.task_url(1))
        .bearer_auth("not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(garbage).await.0, 401);
    // The key with its last character changed (to one it does not already have).
    let last = if app.api_key.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &app.api_key[..app.api_key.len() - 1]);
    let forged = app
        .client
        .get(app.task_url(1))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(forged).await.0, 401);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.api_key));
    let response = app
        .client
        .get(app.task_url(1))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(response).await,
        (404, "TASK_NOT_FOUND".to_owned()),
        "Basic auth is accepted"
    );
    let with_password =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:secret", app.api_key));
    let response = app
        .client
        .get(app.task_url(1))
        .header("authorization", format!("Basic {with_password}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(response).await.0,
        401,
        "the key is the user name and the password must be empty"
    );
    let key_id = app.api_key.split('_').nth(1).unwrap().to_owned();
    userhub_server::admin::revoke_key(&app.pool, &key_id)
        .await
        .unwrap();
    let revoked = app
        .client
        .get(app.task_url(1))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(revoked).await.0, 401);
    app.stop().await;
}

#[tokio::test]
async fn read_only_keys_can_read_but_not_create_write_tasks() {
    let app = TestApp::spawn().await;
    let task_id = app
        .create_task("create_core_profiles", &seed_records())
        .await;
    let reader = app.create_domain_with_key(&app.domain, true).await;
    let denied = app
        .client
        .post(app.tasks_url())
        .bearer_auth(&reader)
        .form(&[
            ("action", "create_core_profiles"),
            ("payload", &seed_payload()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(denied).await, (403, "FORBIDDEN".to_owned()));
    let status = app
        .client
        .get(app.task_url(task_id))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(app.task_count().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let secret = app.api_key.rsplit('_').next().unwrap().to_owned();
    let rows = app
        .query_json("SELECT key_id, encode(secret_hash, 'hex') AS hash FROM api_keys")
        .await;
    for row in rows.as_array().unwrap() {
        assert!(!row["hash"].as_str().unwrap().contains(&secret));
        assert_eq!(row["hash"].as_str().unwrap().len(), 64, "a SHA-256 digest");
    }
    app.stop().await;
}

#[tokio::test]
async fn local_demo_mode_admits_requests_without_a_key_to_one_domain_only() {
    let app = TestApp::spawn_with(|settings| {
        settings.http.unauthenticated_domain = Some("open-demo".into())
    })
    .await;
    app.create_domain_with_key("open-demo", false).await;
    let response = app
        .client
        .post(format!(
            "{}/v2/open-demo/identity/bulk_actions",
            app.base_url
        ))
        .form(&[
            ("action", "create_core_profiles"),
            ("payload", &seed_payload()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let forged = app
        .client
        .get(format!(
            "{}/v2/open-demo/identity/bulk_actions/1",
            app.base_url
        ))
        .bearer_auth("uh_000000000000_000000000000000000000000000000000000000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(forged).await.0,
        401,
        "credentials that are sent are still checked"
    );
    let other = app.client.get(app.task_url(1)).send().await.unwrap();
    assert_eq!(
        code_of(other).await.0,
        401,
        "other domains still need a key"
    );
    app.stop().await;
}
