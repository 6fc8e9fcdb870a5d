//! A private queue bound to the app's profile-events exchange, for tests that check events.

use crate::TestApp;
use serde_json::{Value, json};
use std::time::Duration;
use userhub_broker::Inspector;

/// A private queue bound to every event of the app's exchange.
pub struct EventTap {
    inspector: Inspector,
    queue: String,
    /// Every event taken, validated against the published schema on close.
    seen: Vec<Value>,
    /// Every message taken (batches or single events), validated on close.
    messages: Vec<Value>,
}

/// The routing key an event is published with.
fn routing_key(event: &Value) -> String {
    let domain = event["domain"].as_str().unwrap();
    let action = event["action"].as_str().unwrap();
    if event.get("pid").is_some() {
        format!("{domain}.app.{action}")
    } else {
        format!("{domain}.{action}")
    }
}

impl EventTap {
    pub async fn bind(app: &TestApp, pattern: &str) -> EventTap {
        let inspector = Inspector::connect(&app.settings.broker).await.unwrap();
        let exchange = format!("{}.profile-events", app.settings.broker.prefix);
        let queue = inspector.tap(&exchange, pattern).await.unwrap();
        EventTap {
            inspector,
            queue,
            seen: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Every event published so far: waits until the outbox is empty, then drains the queue.
    pub async fn events(&mut self, app: &TestApp) -> Vec<Value> {
        for _ in 0..200 {
            let pending = app
                .query_json("SELECT count(*) AS n FROM profile_event_outbox")
                .await[0]["n"]
                .as_i64()
                .unwrap();
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut events = Vec::new();
        while let Some(message) = self.inspector.take(&self.queue).await.unwrap() {
            let body: Value = serde_json::from_slice(&message.body).unwrap();
            self.messages.push(body.clone());
            if body["schema"] == "userhub.profile_event_batch.v1" {
                let inside = body["events"].as_array().unwrap();
                assert_eq!(body["count"], inside.len(), "{body}");
                let keys: Vec<String> = inside.iter().map(routing_key).collect();
                assert!(
                    keys.windows(2).all(|pair| pair[0] == pair[1]),
                    "one key: {body}"
                );
                assert_eq!(message.routing_key, keys[0]);
                events.extend(inside.iter().cloned());
            } else {
                events.push(body);
            }
        }
        self.seen.extend(events.iter().cloned());
        events
    }

    /// Messages taken so far (a batch counts once).
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    pub async fn close(self) {
        let event_schema: Value =
            serde_json::from_str(include_str!("../../proto-schemas/profile-event.v1.json"))
                .unwrap();
        let batch_schema: Value = serde_json::from_str(include_str!(
            "../../proto-schemas/profile-event-batch.v1.json"
        ))
        .unwrap();
        let validator = jsonschema::validator_for(&event_schema).unwrap();
        assert!(!validator.is_valid(&json!({"schema": "userhub.profile_event.v1"})));
        for event in &self.seen {
            let problems: Vec<String> = validator
                .iter_errors(event)
                .map(|e| e.to_string())
                .collect();
            assert!(problems.is_empty(), "{problems:?} in {event}");
        }
        let batches = jsonschema::options()
            .with_resource(
                "https://userhub.invalid/proto-schemas/profile-event.v1.json",
                jsonschema::Resource::from_contents(event_schema).unwrap(),
            )
            .build(&batch_schema)
            .unwrap();
        let broken = json!({"schema": "userhub.profile_event_batch.v1", "batch_id": "1.0.0..1.0.0",
                            "count": 1, "events": [{"schema": "userhub.profile_event.v1"}]});
        assert!(
            !batches.is_valid(&broken),
            "the event schema applies inside batches"
        );
        for message in &self.messages {
            if message["schema"] == "userhub.profile_event_batch.v1" {
                let problems: Vec<String> = batches
                    .iter_errors(message)
                    .map(|e| e.to_string())
                    .collect();
                assert!(problems.is_empty(), "{problems:?} in {message}");
            }
        }
        self.inspector.close().await;
    }
}
