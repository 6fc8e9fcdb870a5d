//! The broker contract: the claim checks the gateway really publishes validate against
//! `proto-schemas/chunk.v2.json`, and each, filled with the records it stored, against
//! `proto-schemas/chunk.v1.json`.

use serde_json::{Value, json};
use userhub_tests::{Service, TestApp};

const CHUNK_SCHEMA: &str = include_str!("../../../proto-schemas/chunk.v1.json");
const CLAIM_CHECK_SCHEMA: &str = include_str!("../../../proto-schemas/chunk.v2.json");

#[tokio::test]
async fn gateway_messages_match_the_published_schema() {
    let app = TestApp::spawn_service(Service::Gateway, |settings| {
        settings.gateway.chunk_records = 2
    })
    .await;
    let lines = [
        json!({"identities": [{"uid": "a"}], "last_city": "Pune"}).to_string(),
        "{broken".to_owned(),
        json!({"identities": []}).to_string(),
        json!({"identities": [{"uid": "b"}], "custom_fields": {"x": 1}}).to_string(),
        json!({"identities": [{"uid": "a"}]}).to_string(),
    ];
    let task_id = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    let validator = chunk_validator();
    let messages = published(&app, "create_core_profiles").await;
    // Records 0 and 4 claim uid `a`: they share a chunk (which may grow past two records) so
    // that one worker decides between them; the others fill chunks of two.
    assert_eq!(
        messages.len(),
        2,
        "five records in chunks of two, one group kept together"
    );
    for message in &messages {
        let problems: Vec<String> = validator
            .iter_errors(message)
            .map(|error| error.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:?} in {message}");
        assert_eq!(message["task_id"], task_id);
    }
    let chunk_of = |index: u64| {
        messages
            .iter()
            .position(|m| {
                m["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["index"] == index)
            })
            .unwrap()
    };
    let record = |index: u64| -> &Value {
        messages[chunk_of(index)]["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["index"] == index)
            .unwrap()
    };
    assert_eq!(record(1)["raw"], "{broken");
    assert!(
        record(2).get("errors").is_none(),
        "full validation is the worker's"
    );
    assert!(
        record(4).get("errors").is_none(),
        "which of two claims wins is the worker's too"
    );
    assert_eq!(
        chunk_of(0),
        chunk_of(4),
        "records claiming uid `a` share a chunk"
    );
    let mut invalid = messages[0].clone();
    invalid["records"][0]["index"] = json!(-1);
    assert!(!validator.is_valid(&invalid), "the schema can fail");
    app.stop().await;
}

#[tokio::test]
async fn upsert_messages_carry_their_options_and_match_the_schema() {
    let app = TestApp::spawn_service(Service::Gateway, |_| {}).await;
    let options =
        json!({"match_by": "custom_field:crm_id", "skip_triggers": true, "workflow_id": 42});
    let records = [json!({"custom_fields": {"crm_id": "c-1"}, "names": {"first_name": "A"}})];
    let task_id = app
        .create_task_with("upsert_core_profiles", options.clone(), &records)
        .await;
    let validator = chunk_validator();
    let messages = published(&app, "upsert_core_profiles").await;
    assert_eq!(messages.len(), 1);
    assert!(validator.is_valid(&messages[0]), "{}", messages[0]);
    assert_eq!(messages[0]["task_id"], task_id);
    assert_eq!(messages[0]["options"], options);
    let mut invalid = messages[0].clone();
    invalid["options"]["match_by"] = json!("shoe_size");
    assert!(
        !validator.is_valid(&invalid),
        "unknown match keys are outside the schema"
    );
    app.stop().await;
}

fn chunk_validator() -> jsonschema::Validator {
    validator(CHUNK_SCHEMA)
}

fn validator(schema: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(schema).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Takes every message waiting in the work queues of `action`: each a claim check valid
/// against its schema, returned as the version-1 message it stands for.
async fn published(app: &TestApp, action: &str) -> Vec<Value> {
    let claim_checks = validator(CLAIM_CHECK_SCHEMA);
    let action = action.parse().unwrap();
    let mut messages = Vec::new();
    for body in userhub_tests::take_work_messages(&app.settings, action, usize::MAX).await {
        let mut message = serde_json::from_slice::<Value>(&body).unwrap();
        let problems: Vec<String> = claim_checks
            .iter_errors(&message)
            .map(|error| error.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:?} in {message}");
        message["schema"] = json!("userhub.chunk.v1");
        message["records"] = stored_records(app, &message).await;
        messages.push(message);
    }
    let mut full = messages.first().cloned().unwrap_or(json!({}));
    full["schema"] = json!("userhub.chunk.v2");
    assert!(
        !claim_checks.is_valid(&full),
        "a claim check carries no records"
    );
    messages
}

/// The records the gateway stored for the chunk `reference` names.
async fn stored_records(app: &TestApp, reference: &Value) -> Value {
    let client = app.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT records FROM chunk_bodies WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3",
            &[
                &reference["domain_id"].as_i64().unwrap(),
                &reference["task_id"].as_i64().unwrap(),
                &(reference["chunk_no"].as_i64().unwrap() as i32),
            ],
        )
        .await
        .unwrap();
    let stored: Vec<u8> = row.get(0);
    let records = userhub_tasks::envelope::decode_records(&stored).unwrap();
    serde_json::to_value(&records).unwrap()
}
