//! Rules that hold for a profile whatever the records and tasks that reach it: a change that
//! changes nothing is no change, a profile keeps at most 30 identities and one uid, identities
//! are one under Unicode normalisation, and the first record claiming an identity gets it.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

async fn create_one(app: &TestApp, record: Value) -> i64 {
    let (_, results, errors) = app.run_task("create_core_profiles", &[record]).await;
    assert!(errors.is_empty(), "{errors:?}");
    results[0]["core-profile-id"].as_i64().unwrap()
}

async fn updated_at(app: &TestApp, id: i64) -> Value {
    app.query_json(&format!(
        "SELECT updated_at::text AS stamp FROM core_profiles WHERE id = {id}"
    ))
    .await[0]["stamp"]
        .clone()
}

fn codes(errors: &[Value]) -> Vec<(u64, String, String)> {
    errors
        .iter()
        .flat_map(|entry| {
            entry["errors"].as_array().unwrap().iter().map(|e| {
                (
                    entry["index"].as_u64().unwrap(),
                    e["field"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn changes_that_change_nothing_keep_updated_at_and_publish_nothing() {
    let app = TestApp::spawn().await;
    let id = create_one(
        &app,
        json!({"identities": [{"email": "ann@x.io"}], "age": 30, "custom_fields": {"plan": "gold"}}),
    )
    .await;
    let before = updated_at(&app, id).await;
    assert!(before.is_string(), "{before}");
    let mut tap = EventTap::bind(&app, "#").await;
    // The create's own event may still be on its way: take it out of the picture.
    tap.events(&app).await;
    let same = json!({"core-profile-id": id, "age": 30, "custom_fields": {"plan": "gold"}, "identities": [{"email": "ANN@x.io"}]});
    let (status, results, _) = app.run_task("update_core_profiles", &[same]).await;
    assert_eq!(status["succeeded"], 1);
    assert_eq!(results[0]["updated_fields"], json!([]));
    let task = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "email"}),
            &[json!({"identities": [{"email": "ann@x.io"}], "age": "30"})],
        )
        .await;
    app.wait_completed(task).await;
    let upserted = app.results(task).await;
    assert_eq!(upserted[0]["result"], "updated");
    assert_eq!(upserted[0]["updated_fields"], json!([]));
    assert_eq!(updated_at(&app, id).await, before, "updated_at stays");
    assert!(tap.events(&app).await.is_empty(), "no event for no change");

    let real = json!({"core-profile-id": id, "age": 31});
    let (_, results, _) = app.run_task("update_core_profiles", &[real]).await;
    assert_eq!(results[0]["updated_fields"], json!(["age"]));
    assert_ne!(updated_at(&app, id).await, before);
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["changed_fields"], json!(["age"]));
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_profile_keeps_at_most_30_identities_whatever_the_tasks() {
    let app = TestApp::spawn().await;
    let id = create_one(&app, json!({"identities": [{"uid": "owner"}]})).await;
    let batch = |from: usize| {
        let identities: Vec<Value> = (from..from + 29)
            .map(|n| json!({"steam_id": format!("s{n}")}))
            .collect();
        json!({"core-profile-id": id, "identities": identities})
    };
    let (status, _, _) = app.run_task("update_core_profiles", &[batch(0)]).await;
    assert_eq!(status["succeeded"], 1);
    let (status, _, errors) = app.run_task("update_core_profiles", &[batch(100)]).await;
    assert_eq!(status["failed"], 1);
    assert_eq!(
        codes(&errors),
        vec![(
            0,
            "identities".to_owned(),
            "EXCEEDED_COUNT_LIMIT".to_owned()
        )]
    );
    let count = app
        .query_json(&format!(
            "SELECT count(*) AS n FROM identities WHERE core_profile_id = {id}"
        ))
        .await;
    assert_eq!(count[0]["n"], 30);
    app.stop().await;
}

#[tokio::test]
async fn precomposed_and_decomposed_accents_are_one_identity() {
    let app = TestApp::spawn().await;
    let precomposed = "caf\u{e9}@x.io";
    let decomposed = "cafe\u{301}@x.io";
    let id = create_one(&app, json!({"identities": [{"email": precomposed}]})).await;
    let (_, _, errors) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": decomposed}]})],
        )
        .await;
    assert_eq!(errors[0]["errors"][0]["code"], "IDENTITY_CONFLICT");
    assert_eq!(errors[0]["errors"][0]["details"]["core-profile-id"], id);
    app.stop().await;
}

#[tokio::test]
async fn the_first_record_adding_an_identity_gets_it_and_later_ones_are_told_which() {
    let app = TestApp::spawn().await;
    let a = create_one(&app, json!({"identities": [{"uid": "a"}]})).await;
    let b = create_one(&app, json!({"identities": [{"uid": "b"}]})).await;
    let records = [
        json!({"core-profile-id": a, "identities": [{"email": "shared@x.io"}]}),
        json!({"core-profile-id": b, "identities": [{"email": "shared@x.io"}]}),
    ];
    let (_, _, errors) = app.run_task("update_core_profiles", &records).await;
    assert_eq!(
        codes(&errors),
        vec![(
            1,
            "identities[0].email".to_owned(),
            "DUPLICATE_IN_PAYLOAD".to_owned()
        )]
    );
    assert_eq!(errors[0]["errors"][0]["details"]["index"], 0);

    // The same for upserts, and a failed first record claims nothing.
    let task = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "uid"}),
            &[
                json!({"identities": [{"uid": "c"}, {"phone_number": "+100200300"}], "age": 500}),
                json!({"identities": [{"uid": "d"}, {"phone_number": "+100200300"}]}),
                json!({"identities": [{"uid": "e"}, {"phone_number": "+1 00200300"}]}),
            ],
        )
        .await;
    app.wait_completed(task).await;
    let results = app.results(task).await;
    let errors = app.errors(task).await;
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0]["index"], 1,
        "record 0 failed, so record 1 gets the phone"
    );
    assert_eq!(
        codes(&errors),
        vec![
            (0, "age".to_owned(), "INVALID_VALUE".to_owned()),
            (
                2,
                "identities[1].phone_number".to_owned(),
                "DUPLICATE_IN_PAYLOAD".to_owned()
            ),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn upsert_errors_name_the_identity_at_fault() {
    let app = TestApp::spawn().await;
    create_one(&app, json!({"identities": [{"email": "ann@x.io"}]})).await;
    let owner = create_one(&app, json!({"identities": [{"uid": "taken"}]})).await;
    let task = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "email"}),
            &[json!({"identities": [{"email": "ann@x.io"}, {"phone_number": "+4912345"}, {"uid": "taken"}]})],
        )
        .await;
    app.wait_completed(task).await;
    let errors = app.errors(task).await;
    assert_eq!(
        codes(&errors),
        vec![(
            0,
            "identities[2].uid".to_owned(),
            "IDENTITY_CONFLICT".to_owned()
        )]
    );
    assert_eq!(errors[0]["errors"][0]["details"]["core-profile-id"], owner);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_adding_uids_to_one_profile_leave_one_uid_and_say_why() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 20).await;
    let ids: Vec<i64> = {
        let records: Vec<Value> = (0..200)
            .map(|n| json!({"identities": [{"email": format!("p{n}@x.io")}]}))
            .collect();
        let (_, results, _) = app.run_task("create_core_profiles", &records).await;
        results
            .iter()
            .map(|r| r["core-profile-id"].as_i64().unwrap())
            .collect()
    };
    let task_for = |tag: &'static str| -> Vec<Value> {
        ids.iter()
            .enumerate()
            .map(|(n, id)| json!({"core-profile-id": id, "identities": [{"uid": format!("{tag}-{n}")}]}))
            .collect()
    };
    let (left, right) = (task_for("left"), task_for("right"));
    let (first, second) = tokio::join!(
        app.create_task("update_core_profiles", &left),
        app.create_task("update_core_profiles", &right),
    );
    let (first_status, second_status) =
        tokio::join!(app.wait_completed(first), app.wait_completed(second));
    let succeeded =
        first_status["succeeded"].as_i64().unwrap() + second_status["succeeded"].as_i64().unwrap();
    assert_eq!(
        succeeded, 200,
        "each profile got exactly one of the two uids"
    );
    for task in [first, second] {
        for entry in app.errors(task).await {
            let error = &entry["errors"][0];
            assert_eq!(error["code"], "INVALID_IDENTITY", "{entry}");
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .contains("already has a different uid"),
                "{entry}"
            );
        }
    }
    let uids = app
        .query_json("SELECT count(*) AS n, count(DISTINCT core_profile_id) AS owners FROM identities WHERE kind = 'uid'")
        .await;
    assert_eq!(uids[0]["n"], 200);
    assert_eq!(uids[0]["owners"], 200);
    app.stop().await;
}
