//! The compatible endpoints of seeds 001–004, driven with the seeds' own examples (only host and
//! credentials replaced).

mod altcraft_import;
mod altcraft_workflows;
mod helpcrunch;
mod xtremepush;

use serde_json::Value;
use userhub_tests::TestApp;

/// Posts `body` as JSON text to `path`; returns the status and the JSON answer.
pub async fn post_text(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.base_url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// The domain's profiles as exported JSON, in id order.
pub async fn profiles(app: &TestApp) -> Vec<Value> {
    let rows = app
        .query_json(
            "SELECT id, names, custom_fields, tags, preferred_language, \
                    (SELECT json_agg(json_build_object(kind, value) ORDER BY kind, value) \
                       FROM identities i WHERE i.core_profile_id = p.id) AS identities \
               FROM core_profiles p ORDER BY id",
        )
        .await;
    rows.as_array().cloned().unwrap_or_default()
}
