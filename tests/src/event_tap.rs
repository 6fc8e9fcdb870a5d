//! A private queue bound to the app's profile-events exchange, for tests that check events.

use crate::TestApp;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};
use std::time::Duration;

/// A private queue bound to every event of the app's exchange.
pub struct EventTap {
    connection: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
    /// Every event taken, validated against the published schema on close.
    seen: Vec<Value>,
}

impl EventTap {
    pub async fn bind(app: &TestApp, pattern: &str) -> EventTap {
        let connection = lapin::Connection::connect(
            &app.settings.broker.url,
            lapin::ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .name()
            .to_string();
        let exchange = format!("{}.profile-events", app.settings.broker.prefix);
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        EventTap {
            connection,
            channel,
            queue,
            seen: Vec::new(),
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
        while let Some(message) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            events.push(serde_json::from_slice(&message.delivery.data).unwrap());
        }
        self.seen.extend(events.iter().cloned());
        events
    }

    pub async fn close(self) {
        let schema: Value =
            serde_json::from_str(include_str!("../../proto-schemas/profile-event.v1.json"))
                .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(!validator.is_valid(&json!({"schema": "userhub.profile_event.v1"})));
        for event in &self.seen {
            let problems: Vec<String> = validator
                .iter_errors(event)
                .map(|e| e.to_string())
                .collect();
            assert!(problems.is_empty(), "{problems:?} in {event}");
        }
        self.connection.close(200, "done".into()).await.unwrap();
    }
}
