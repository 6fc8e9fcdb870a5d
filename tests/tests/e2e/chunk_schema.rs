//! The broker contract: messages the gateway really publishes validate against
//! `proto-schemas/chunk.v1.json`.

use futures_util::StreamExt;
use lapin::options::BasicGetOptions;
use serde_json::{Value, json};
use userhub_tests::{Service, TestApp};

const CHUNK_SCHEMA: &str = include_str!("../../../proto-schemas/chunk.v1.json");

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
    let schema: Value = serde_json::from_str(CHUNK_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let connection = lapin::Connection::connect(
        &app.settings.broker.url,
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = format!("{}.create_core_profiles", app.settings.broker.prefix);
    let mut messages = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        messages.push(serde_json::from_slice::<Value>(&message.delivery.data).unwrap());
    }
    assert_eq!(messages.len(), 3, "five records in chunks of two");
    for message in &messages {
        let problems: Vec<String> = validator
            .iter_errors(message)
            .map(|error| error.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:?} in {message}");
        assert_eq!(message["task_id"], task_id);
    }
    let records: Vec<&Value> = messages
        .iter()
        .flat_map(|m| m["records"].as_array().unwrap())
        .collect();
    assert_eq!(records[1]["raw"], "{broken");
    assert!(
        records[2].get("errors").is_none(),
        "full validation is the worker's"
    );
    assert_eq!(records[4]["errors"][0]["code"], "DUPLICATE_IN_PAYLOAD");
    let mut invalid = messages[0].clone();
    invalid["records"][0]["index"] = json!(-1);
    assert!(!validator.is_valid(&invalid), "the schema can fail");
    let _ = futures_util::stream::empty::<()>().next().await;
    connection.close(200, "done".into()).await.unwrap();
    app.stop().await;
}
