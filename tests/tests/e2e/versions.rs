//! External record versions (EXT): a record's `version` is applied only when it is greater than
//! the profile's stored one (`STALE_VERSION` otherwise, changing nothing and publishing
//! nothing); exports and events show the version, a dry run judges it as the real run would, a
//! revert gives it back, and concurrent tasks end at each profile's highest version whatever
//! the order their chunks commit in.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

async fn export(app: &TestApp, ids: &[i64]) -> Vec<Value> {
    let records: Vec<Value> = ids
        .iter()
        .map(|id| json!({"core-profile-id": id}))
        .collect();
    let (_, results, errors) = app.run_task("get_core_profiles", &records).await;
    assert!(errors.is_empty(), "{errors:?}");
    results
}

fn id_of(result: &Value) -> i64 {
    result["core-profile-id"].as_i64().unwrap()
}

/// The errors file as (record index, code, details) for the `version` field.
fn stale(errors: &[Value]) -> Vec<(u64, String, Value)> {
    errors
        .iter()
        .map(|error| {
            let first = &error["errors"][0];
            (
                error["index"].as_u64().unwrap(),
                first["code"].as_str().unwrap().to_owned(),
                first["details"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_older_version_is_refused_a_newer_one_applied_and_none_leaves_it_alone() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let (_, created, errors) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "v"}], "age": 1, "version": 10}),
                json!({"identities": [{"uid": "w"}], "age": 1, "version": "x"}),
            ],
        )
        .await;
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["errors"][0]["field"], "version");
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_VALUE");
    let id = id_of(&created[0]);
    assert_eq!(export(&app, &[id]).await[0]["version"], 10);
    let created_event = tap.events(&app).await;
    assert_eq!(created_event[0]["version"], 10, "{created_event:?}");

    let (status, results, errors) = app
        .run_task(
            "update_core_profiles",
            &[
                json!({"core-profile-id": id, "age": 5, "version": 5}),
                json!({"core-profile-id": id, "age": 12, "version": "12"}),
                json!({"core-profile-id": id, "age": 11, "version": 11}),
                json!({"core-profile-id": id, "last_city": "Oslo"}),
                json!({"core-profile-id": id, "age": 99, "version": 12}),
            ],
        )
        .await;
    assert_eq!(status["succeeded"], 2, "{status}");
    assert_eq!(
        stale(&errors),
        vec![
            (
                0,
                "STALE_VERSION".into(),
                json!({"version": 5, "stored_version": 10})
            ),
            (
                2,
                "STALE_VERSION".into(),
                json!({"version": 11, "stored_version": 12})
            ),
            (
                4,
                "STALE_VERSION".into(),
                json!({"version": 12, "stored_version": 12})
            ),
        ]
    );
    assert_eq!(errors[0]["errors"][0]["field"], "version");
    assert_eq!(results.len(), 2);
    let shown = &export(&app, &[id]).await[0];
    assert_eq!(
        (&shown["age"], &shown["last_city"], &shown["version"]),
        (&json!(12), &json!("Oslo"), &json!(12)),
        "{shown}"
    );
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 1, "stale records publish nothing: {events:?}");
    assert_eq!(events[0]["version"], 12);
    assert_eq!(
        events[0]["changed_fields"],
        json!(["age", "last_city", "version"])
    );

    // A stale record is not retried by `retry`, only by `?all_failed`.
    let update = app
        .create_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "age": 3, "version": 1})],
        )
        .await;
    app.wait_completed(update).await;
    let retry = |query: &'static str| {
        let url = format!("{}/retry{query}", app.task_url(update));
        app.authorized(app.client.post(url)).send()
    };
    let refused = retry("").await.unwrap();
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOTHING_TO_RETRY", "{body}");
    let all_failed = retry("?all_failed=true").await.unwrap();
    assert_eq!(
        all_failed.status(),
        201,
        "`?all_failed` takes stale records too"
    );
    tap.close().await;
}

#[tokio::test]
async fn upserts_app_profiles_and_csv_columns_carry_versions() {
    let app = TestApp::spawn().await;
    let app = &app;
    let upsert = |records: Vec<Value>| async move {
        let task = app
            .create_task_with(
                "upsert_core_profiles",
                json!({"match_by": "email"}),
                &records,
            )
            .await;
        app.wait_completed(task).await;
        (app.results(task).await, app.errors(task).await)
    };
    let (results, _) = upsert(vec![
        json!({"identities": [{"email": "a@x.io"}], "age": 7, "version": 7}),
    ])
    .await;
    let id = id_of(&results[0]);
    let (results, errors) = upsert(vec![
        json!({"identities": [{"email": "a@x.io"}], "age": 6, "version": 6}),
        json!({"identities": [{"email": "a@x.io"}], "age": 8, "version": 8}),
    ])
    .await;
    assert_eq!(
        stale(&errors),
        vec![(
            0,
            "STALE_VERSION".into(),
            json!({"version": 6, "stored_version": 7})
        )]
    );
    assert_eq!(id_of(&results[0]), id);
    assert_eq!(export(app, &[id]).await[0]["version"], 8);

    let (_, apps, errors) = app
        .run_task(
            "create_app_profiles",
            &[json!({"core-profile-id": id, "app_id": "game", "user_level": 1, "version": 3})],
        )
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    let pid = apps[0]["pid"].as_str().unwrap().to_owned();
    let (_, _, errors) = app
        .run_task(
            "update_app_profiles",
            &[
                json!({"pid": pid, "user_level": 2, "version": 2}),
                json!({"pid": pid, "user_level": 4, "version": 4}),
            ],
        )
        .await;
    assert_eq!(
        stale(&errors),
        vec![(
            0,
            "STALE_VERSION".into(),
            json!({"version": 2, "stored_version": 3})
        )]
    );
    let (_, shown, _) = app
        .run_task("get_app_profiles", &[json!({"pid": pid})])
        .await;
    assert_eq!(
        (&shown[0]["user_level"], &shown[0]["version"]),
        (&json!(4), &json!(4))
    );

    let url = format!("{}?action=update_core_profiles", app.tasks_url());
    let csv = format!("core-profile-id,age,version\n{id},9,9\n{id},1,2\n");
    let response = app
        .authorized(app.client.post(url))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    app.wait_completed(task).await;
    let errors = app.errors(task).await;
    assert_eq!(
        stale(&errors),
        vec![(
            1,
            "STALE_VERSION".into(),
            json!({"version": 2, "stored_version": 9})
        )]
    );
    let shown = &export(app, &[id]).await[0];
    assert_eq!((&shown["age"], &shown["version"]), (&json!(9), &json!(9)));
}

#[tokio::test]
async fn a_dry_run_judges_versions_as_the_real_run_and_a_revert_gives_the_version_back() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "r"}], "age": 1, "version": 10})],
        )
        .await;
    let id = id_of(&created[0]);
    let records = [
        json!({"core-profile-id": id, "age": 2, "version": 9}),
        json!({"core-profile-id": id, "age": 3, "version": 11}),
    ];
    let dry = app
        .create_task_with("update_core_profiles", json!({"dry_run": true}), &records)
        .await;
    app.wait_completed(dry).await;
    let dry_errors = app.errors(dry).await;
    let dry_results = app.results(dry).await;
    assert_eq!(
        stale(&dry_errors),
        vec![(
            0,
            "STALE_VERSION".into(),
            json!({"version": 9, "stored_version": 10})
        )]
    );
    assert_eq!(dry_results[0]["dry_run"], "would_update");
    assert_eq!(
        dry_results[0]["changes"]["version"],
        json!({"old": 10, "new": 11})
    );
    assert_eq!(
        export(&app, &[id]).await[0]["version"],
        10,
        "a dry run writes nothing"
    );

    let update_task = app.create_task("update_core_profiles", &records).await;
    app.wait_completed(update_task).await;
    assert_eq!(stale(&app.errors(update_task).await).len(), 1);
    assert_eq!(export(&app, &[id]).await[0]["version"], 11);
    let child = app.revert_completed(update_task).await;
    let shown = &export(&app, &[id]).await[0];
    assert_eq!(
        (&shown["age"], &shown["version"]),
        (&json!(1), &json!(10)),
        "revert {child} restores the version"
    );
    // With the version back at 10, a record at 11 applies again.
    let (status, _, errors) = app.run_task("update_core_profiles", &records[1..]).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(status["succeeded"], 1);
}

/// For profile `p`, the versions 1..=20 in an order that differs per profile.
fn shuffled_versions(p: u64) -> Vec<u64> {
    let mut versions: Vec<u64> = (1..=20).collect();
    let mut state = p.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for at in (1..versions.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        versions.swap(at, (state % (at as u64 + 1)) as usize);
    }
    versions
}

#[tokio::test]
async fn concurrent_tasks_with_interleaved_versions_end_at_each_profile_s_highest() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 7).await;
    let seeds: Vec<Value> = (0..12)
        .map(|n| json!({"identities": [{"uid": format!("c{n}")}], "age": 100}))
        .collect();
    let (status, created, errors) = app.run_task("create_core_profiles", &seeds).await;
    assert!(errors.is_empty(), "{status} {errors:?}");
    let ids: Vec<i64> = created.iter().map(id_of).collect();
    assert_eq!(ids.len(), seeds.len(), "{status}");
    // Each profile's twenty versions, shuffled, dealt alternately to two tasks.
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for (p, id) in ids.iter().enumerate() {
        for (at, version) in shuffled_versions(p as u64).into_iter().enumerate() {
            let record = json!({
                "core-profile-id": id,
                "age": version,
                "last_city": format!("city-{version}"),
                "version": version,
            });
            if at % 2 == 0 {
                first.push(record);
            } else {
                second.push(record);
            }
        }
    }
    let (a, b) = tokio::join!(
        app.create_task("update_core_profiles", &first),
        app.create_task("update_core_profiles", &second)
    );
    let (status_a, status_b) = tokio::join!(app.wait_completed(a), app.wait_completed(b));
    let (errors_a, errors_b) = tokio::join!(app.errors(a), app.errors(b));
    for error in errors_a.iter().chain(&errors_b) {
        let details = &error["errors"][0]["details"];
        assert_eq!(error["errors"][0]["code"], "STALE_VERSION", "{error}");
        assert!(details["version"].as_u64() <= details["stored_version"].as_u64());
    }
    let applied = status_a["succeeded"].as_u64().unwrap() + status_b["succeeded"].as_u64().unwrap();
    assert!(applied >= ids.len() as u64, "{status_a} {status_b}");
    let shown: BTreeMap<i64, Value> = export(&app, &ids)
        .await
        .into_iter()
        .map(|profile| (id_of(&profile), profile))
        .collect();
    for id in &ids {
        let profile = &shown[id];
        assert_eq!(
            (&profile["age"], &profile["last_city"], &profile["version"]),
            (&json!(20), &json!("city-20"), &json!(20)),
            "{profile}"
        );
    }
}
