//! Profile events (EXT): after creates, updates and upserts commit, one event per changed
//! profile reaches the `profile-events` exchange, with the task's `workflow_id`; none with
//! `skip_triggers`, none for failed records or read-only tasks.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

fn ids_of(events: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = events
        .iter()
        .map(|event| event["core-profile-id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn changes_publish_one_event_per_changed_profile() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let created = app
        .create_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "a"}], "last_city": "Pune"}),
                json!({"identities": [{"uid": "b"}], "names": {"first_name": "B"}}),
                json!({"identities": [{"email": "not-an-email"}]}),
            ],
        )
        .await;
    app.wait_completed(created).await;
    let results = app.results(created).await;
    let (a, b) = (
        results[0]["core-profile-id"].as_i64().unwrap(),
        results[1]["core-profile-id"].as_i64().unwrap(),
    );
    let events = tap.events(&app).await;
    assert_eq!(ids_of(&events), [a, b], "{events:?}");
    let first = events
        .iter()
        .find(|event| event["core-profile-id"] == a)
        .unwrap();
    assert_eq!(first["action"], "created");
    assert_eq!(first["domain"], app.domain.as_str());
    assert_eq!(first["task_id"], created);
    assert_eq!(first["changed_fields"], json!(["identities", "last_city"]));
    assert_eq!(first["schema"], "userhub.profile_event.v1");
    assert!(first.get("workflow_id").is_none());

    // Two records of one profile in one task: one event with both fields.
    let updated = app
        .create_task_with(
            "update_core_profiles",
            json!({"workflow_id": 31}),
            &[
                json!({"core-profile-id": a, "age": 40}),
                json!({"core-profile-id": a, "tags": ["vip"]}),
                json!({"core-profile-id": 999_999_999_999_i64, "age": 3}),
            ],
        )
        .await;
    app.wait_completed(updated).await;
    let events = tap.events(&app).await;
    assert_eq!(ids_of(&events), [a], "{events:?}");
    assert_eq!(events[0]["action"], "updated");
    assert_eq!(events[0]["workflow_id"], 31);
    assert_eq!(events[0]["changed_fields"], json!(["age", "tags"]));

    // An upsert that creates one and updates another.
    let upserted = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "uid"}),
            &[
                json!({"identities": [{"uid": "b"}], "last_city": "Goa"}),
                json!({"identities": [{"uid": "c"}]}),
            ],
        )
        .await;
    app.wait_completed(upserted).await;
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let actions: Vec<(&Value, &Value)> = events
        .iter()
        .map(|event| (&event["core-profile-id"], &event["action"]))
        .collect();
    assert!(
        actions.contains(&(&json!(b), &json!("updated"))),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|(id, action)| **id != json!(b) && **action == "created"),
        "{actions:?}"
    );

    // Reads publish nothing; core-profile events are not app events.
    let exported = app
        .create_task("get_core_profiles", &[json!({"core-profile-id": a})])
        .await;
    app.wait_completed(exported).await;
    assert!(tap.events(&app).await.is_empty());
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn skip_triggers_publishes_nothing() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let quiet = app
        .create_task_with(
            "create_core_profiles",
            json!({"skip_triggers": true}),
            &[json!({"identities": [{"uid": "q"}]})],
        )
        .await;
    app.wait_completed(quiet).await;
    let id = app.results(quiet).await[0]["core-profile-id"].clone();
    let quiet_update = app
        .create_task_with(
            "update_core_profiles",
            json!({"skip_triggers": "true"}),
            &[json!({"core-profile-id": id, "age": 5})],
        )
        .await;
    app.wait_completed(quiet_update).await;
    assert!(tap.events(&app).await.is_empty());
    // The same change without the option is published: the tap works.
    let loud = app
        .create_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "age": 6})],
        )
        .await;
    app.wait_completed(loud).await;
    assert_eq!(tap.events(&app).await.len(), 1);
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn routing_keys_name_the_domain_and_the_change() {
    let app = TestApp::spawn().await;
    let mut created_only = EventTap::bind(&app, "*.created").await;
    let task = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "r"}]})],
        )
        .await;
    app.wait_completed(task).await;
    let id = app.results(task).await[0]["core-profile-id"].clone();
    let update = app
        .create_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "age": 9})],
        )
        .await;
    app.wait_completed(update).await;
    let events = created_only.events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "created");
    created_only.close().await;
    app.stop().await;
}

#[tokio::test]
async fn app_profile_changes_publish_app_events() {
    let app = TestApp::spawn().await;
    let mut apps = EventTap::bind(&app, "*.app.*").await;
    let task = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "owner"}]})],
        )
        .await;
    app.wait_completed(task).await;
    let owner = app.results(task).await[0]["core-profile-id"].clone();
    let created = app
        .create_task(
            "create_app_profiles",
            &[json!({"core-profile-id": owner, "app_id": "game", "user_level": 1})],
        )
        .await;
    app.wait_completed(created).await;
    let pid = app.results(created).await[0]["pid"].clone();
    let updated = app
        .create_task_with(
            "update_app_profiles",
            json!({"workflow_id": 5}),
            &[json!({"pid": pid, "user_level": 2})],
        )
        .await;
    app.wait_completed(updated).await;
    let events = apps.events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["action"], "created");
    assert_eq!(events[1]["action"], "updated");
    for event in &events {
        assert_eq!(event["pid"], pid);
        assert_eq!(event["app_id"], "game");
        assert_eq!(event["core-profile-id"], owner);
    }
    assert_eq!(events[1]["workflow_id"], 5);
    assert_eq!(events[1]["changed_fields"], json!(["user_level"]));
    apps.close().await;
    app.stop().await;
}

async fn import_in_chunks(app: &TestApp, records: usize) {
    let records: Vec<Value> = (0..records)
        .map(|n| json!({"identities": [{"uid": format!("batch-{n}")}]}))
        .collect();
    let task = app.create_task("create_core_profiles", &records).await;
    app.wait_completed(task).await;
}

#[tokio::test]
async fn events_travel_as_one_message_per_chunk_and_routing_key() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 100).await;
    let mut tap = EventTap::bind(&app, "#").await;
    import_in_chunks(&app, 250).await;
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 250);
    assert_eq!(tap.message_count(), 3, "one message per chunk");
    let mut event_ids: Vec<&str> = events
        .iter()
        .map(|event| event["event_id"].as_str().unwrap())
        .collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    assert_eq!(event_ids.len(), 250);
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn single_event_messages_remain_available() {
    let app = TestApp::spawn_with(|settings| {
        settings.gateway.chunk_records = 100;
        settings.worker.profile_event_messages = userhub_domain::events::EventMessages::Single;
    })
    .await;
    let mut tap = EventTap::bind(&app, "#").await;
    import_in_chunks(&app, 250).await;
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 250);
    assert_eq!(tap.message_count(), 250, "one message per event");
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn outbox_rows_written_before_the_compact_layout_are_still_published() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    // What a worker of the release before migration 0015 left behind, unpublished.
    let body = |n: i64| {
        json!({"schema": "userhub.profile_event.v1", "event_id": format!("7.0.{n}"),
            "domain": app.domain, "core-profile-id": 1_000_000_000 + n, "action": "created",
            "changed_fields": ["identities"], "task_id": 7, "occurred_at": 1})
        .to_string()
    };
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO profile_event_outbox (domain_id, event_ids, routing_keys, bodies) \
             VALUES ((SELECT id FROM domains WHERE name = $4), $1, $2, $3)",
            &[
                &vec!["7.0.0", "7.0.1"],
                &vec![format!("{}.created", app.domain); 2],
                &vec![body(0), body(1)],
                &app.domain,
            ],
        )
        .await
        .unwrap();
    import_in_chunks(&app, 3).await;
    let events = tap.events(&app).await;
    let legacy: Vec<&Value> = events
        .iter()
        .filter(|event| event["event_id"].as_str().unwrap().starts_with("7.0."))
        .collect();
    assert_eq!(legacy.len(), 2, "{events:?}");
    assert_eq!(legacy[0]["core-profile-id"], 1_000_000_000);
    assert_eq!(legacy[1]["core-profile-id"], 1_000_000_001);
    assert_eq!(events.len(), 5, "and the new chunk's three: {events:?}");
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_unreadable_outbox_row_does_not_hold_back_later_events() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    // A compact row whose arrays disagree (two profiles, one action).
    app.execute(
        "INSERT INTO profile_event_outbox (domain_id, task_id, chunk_no, domain, occurred_at, \
         profile_ids, created, field_lists, field_list_of, pids, app_ids) \
         VALUES (0, 7, 0, 'x', 1, '{1,2}', '{t}', '{}', '{0,0}', '{NULL,NULL}', '{NULL,NULL}')",
    )
    .await;
    import_in_chunks(&app, 3).await;
    let mut events = Vec::new();
    // Each call waits up to 10 s for the outbox to empty, which this one never does.
    for _ in 0..3 {
        events.extend(tap.events(&app).await);
        if events.len() >= 3 {
            break;
        }
    }
    assert_eq!(events.len(), 3, "{events:?}");
    let left = app
        .query_json("SELECT count(*) AS n FROM profile_event_outbox")
        .await;
    assert_eq!(left[0]["n"], 1, "the unreadable row stays for an operator");
    tap.close().await;
    app.stop().await;
}
