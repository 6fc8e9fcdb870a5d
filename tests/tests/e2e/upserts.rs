//! `upsert_core_profiles` (EXT): records matched by `match_by` are updated, the others created;
//! records of one key apply in input order; racing tasks never create a profile twice.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskAction;
use userhub_tests::{Service, TestApp};

async fn upsert(
    app: &TestApp,
    match_by: &str,
    records: &[Value],
) -> (Value, Vec<Value>, Vec<Value>) {
    let task = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": match_by}),
            records,
        )
        .await;
    let status = app.wait_completed(task).await;
    (status, app.results(task).await, app.errors(task).await)
}

async fn profile_count(app: &TestApp) -> i64 {
    app.query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn unknown_keys_are_created_known_ones_updated_in_input_order() {
    let app = TestApp::spawn().await;
    let records = vec![
        json!({"identities": [{"email": "ann@example.com"}], "last_city": "Pune"}),
        json!({"identities": [{"email": "bob@example.com"}, {"uid": "bob"}], "age": 30}),
        json!({"identities": [{"email": "ANN@example.com"}], "last_city": "Delhi", "tags": ["vip"]}),
    ];
    let (status, results, errors) = upsert(&app, "email", &records).await;
    assert_eq!(status["succeeded"], 3, "{errors:?}");
    assert_eq!(results[0]["result"], "created");
    assert_eq!(results[1]["result"], "created");
    assert_eq!(results[2]["result"], "updated");
    assert_eq!(results[2]["core-profile-id"], results[0]["core-profile-id"]);
    assert_eq!(results[2]["updated_fields"], json!(["last_city", "tags"]));
    assert_eq!(profile_count(&app).await, 2);
    let ann = app
        .query_json(&format!(
            "SELECT last_city, tags FROM core_profiles WHERE id = {}",
            results[0]["core-profile-id"]
        ))
        .await;
    assert_eq!(ann[0]["last_city"], "Delhi", "the later record wins");
    assert_eq!(ann[0]["tags"], json!(["vip"]));

    // A second task updates, creates the rest, and an unchanged record is still a success.
    let again = vec![
        json!({"identities": [{"email": "bob@example.com"}], "age": 31}),
        json!({"identities": [{"email": "cat@example.com"}]}),
        json!({"identities": [{"email": "ann@example.com"}]}),
    ];
    let (status, results, _) = upsert(&app, "email", &again).await;
    assert_eq!(status["succeeded"], 3);
    assert_eq!(results[0]["result"], "updated");
    assert_eq!(results[1]["result"], "created");
    assert_eq!(results[2]["result"], "updated");
    assert_eq!(profile_count(&app).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn records_without_the_match_key_fail_alone() {
    let app = TestApp::spawn().await;
    let records = vec![
        json!({"identities": [{"uid": "u1"}]}),
        json!({"identities": [{"email": "x@example.com"}]}),
        json!({"core-profile-id": 5, "identities": [{"uid": "u2"}]}),
    ];
    let (status, results, errors) = upsert(&app, "uid", &records).await;
    assert_eq!(status["succeeded"], 1);
    assert_eq!(results[0]["index"], 0);
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["errors"][0]["code"], "MISSING_REQUIRED_FIELD");
    assert_eq!(errors[1]["errors"][0]["code"], "UNSUPPORTED_KEY");
    app.stop().await;
}

#[tokio::test]
async fn matching_by_core_profile_id_updates_and_never_creates() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "p1"}]})],
        )
        .await;
    let id = created[0]["core-profile-id"].as_i64().unwrap();
    let records = vec![
        json!({"core-profile-id": id, "last_country": "India"}),
        json!({"core-profile-id": 999_999_999, "last_country": "India"}),
    ];
    let (status, results, errors) = upsert(&app, "core-profile-id", &records).await;
    assert_eq!(status["succeeded"], 1);
    assert_eq!(results[0]["result"], "updated");
    assert_eq!(errors[0]["errors"][0]["code"], "NOT_FOUND");
    assert_eq!(profile_count(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn matching_by_a_custom_field_compares_values_as_text() {
    let app = TestApp::spawn().await;
    let seed = vec![
        json!({"identities": [{"uid": "crm-77"}], "custom_fields": {"CRM_ID": 77}}),
        json!({"identities": [{"uid": "crm-5a"}], "custom_fields": {"CRM_ID": "5"}}),
        json!({"identities": [{"uid": "crm-5b"}], "custom_fields": {"CRM_ID": 5}}),
    ];
    let (status, seeded, _) = app.run_task("create_core_profiles", &seed).await;
    assert_eq!(status["succeeded"], 3);
    let records = vec![
        json!({"custom_fields": {"CRM_ID": "77"}, "last_city": "Pune"}),
        json!({"custom_fields": {"CRM_ID": 88}, "identities": [{"uid": "crm-88"}]}),
        json!({"custom_fields": {"CRM_ID": 5}, "last_city": "Goa"}),
    ];
    let (status, results, errors) = upsert(&app, "custom_field:CRM_ID", &records).await;
    assert_eq!(status["succeeded"], 2, "{errors:?}");
    assert_eq!(results[0]["result"], "updated");
    assert_eq!(results[0]["core-profile-id"], seeded[0]["core-profile-id"]);
    assert_eq!(results[1]["result"], "created");
    assert_eq!(errors[0]["index"], 2);
    assert_eq!(errors[0]["errors"][0]["code"], "AMBIGUOUS_MATCH");
    assert_eq!(errors[0]["errors"][0]["field"], "custom_fields.CRM_ID");
    app.stop().await;
}

#[tokio::test]
async fn anonymous_device_profiles_are_matched_by_device_id() {
    let app = TestApp::spawn().await;
    let first = vec![json!({"identities": [{"device_id": "dev-1"}], "preferred_language": "en"})];
    let (_, results, _) = upsert(&app, "device_id", &first).await;
    assert_eq!(results[0]["result"], "created");
    assert_eq!(results[0]["identities"], json!([{"device_id": "dev-1"}]));
    let second = vec![json!({"identities": [{"device_id": "dev-1"}], "preferred_language": "ga"})];
    let (_, results, _) = upsert(&app, "device_id", &second).await;
    assert_eq!(results[0]["result"], "updated");
    assert_eq!(profile_count(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn options_are_checked_against_the_task_type() {
    let app = TestApp::spawn().await;
    let payload = json!([{"identities": [{"uid": "u"}]}]);
    for (body, message) in [
        (
            json!({"action": "upsert_core_profiles", "payload": payload}),
            "`match_by` is required",
        ),
        (
            json!({"action": "upsert_core_profiles", "match_by": "mail", "payload": payload}),
            "is not a match key",
        ),
        (
            json!({"action": "create_core_profiles", "match_by": "email", "payload": payload}),
            "applies to upsert_core_profiles only",
        ),
        (
            json!({"action": "create_core_profiles", "skip_triggers": "perhaps", "payload": payload}),
            "`skip_triggers`",
        ),
    ] {
        let response = app
            .authorized(app.client.post(app.tasks_url()).json(&body))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "INVALID_OPTION");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{error}"
        );
    }
    // The url-encoded form takes the option as a field.
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .form(&[
            ("action", "upsert_core_profiles"),
            ("match_by", "uid"),
            ("payload", r#"[{"identities":[{"uid":"form-1"}]}]"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.task_count().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn two_tasks_upserting_the_same_new_emails_at_once_create_each_profile_once() {
    // Both tasks wait in the queue, the second in reverse order, so that two workers take
    // chunks of both at once and race to create the same emails.
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 25;
    })
    .await;
    let emails: Vec<Value> = (0..400)
        .map(|n| json!({"identities": [{"email": format!("race{n}@example.com")}], "last_city": "A"}))
        .collect();
    let mut reversed = emails.clone();
    reversed.reverse();
    let options = json!({"match_by": "email"});
    let first = app
        .create_task_with("upsert_core_profiles", options.clone(), &emails)
        .await;
    let second = app
        .create_task_with("upsert_core_profiles", options, &reversed)
        .await;
    let stop = CancellationToken::new();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        workers.push(tokio::spawn(userhub_server::run_worker(
            app.settings.clone(),
            TaskAction::UpsertCoreProfiles,
            listener,
            stop.clone(),
        )));
    }
    let mut created = 0;
    let mut updated = 0;
    for task in [first, second] {
        let status = app.wait_completed(task).await;
        assert_eq!(status["succeeded"], 400, "{status}");
        for result in app.results(task).await {
            match result["result"].as_str().unwrap() {
                "created" => created += 1,
                "updated" => updated += 1,
                other => panic!("{other}"),
            }
        }
    }
    assert_eq!(profile_count(&app).await, 400);
    assert_eq!((created, updated), (400, 400));
    let owners = app
        .query_json(
            "SELECT count(DISTINCT core_profile_id) AS n FROM identities WHERE kind = 'email'",
        )
        .await;
    assert_eq!(owners[0]["n"], 400);
    stop.cancel();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
    app.stop().await;
}

#[tokio::test]
async fn new_keys_sharing_another_identity_in_one_chunk_create_one_owner() {
    let app = TestApp::spawn().await;
    let records = vec![
        json!({"identities": [{"email": "one@example.com"}, {"phone_number": "+79000000000"}]}),
        json!({"identities": [{"email": "two@example.com"}, {"phone_number": "+7 900 000 00 00"}]}),
    ];
    let (status, results, errors) = upsert(&app, "email", &records).await;
    assert_eq!(status["succeeded"], 1, "{status}");
    assert_eq!(results[0]["result"], "created");
    assert_eq!(errors[0]["index"], 1);
    // The first record of the payload gets the phone; the second is told which record has it.
    assert_eq!(errors[0]["errors"][0]["code"], "DUPLICATE_IN_PAYLOAD");
    assert_eq!(
        errors[0]["errors"][0]["field"],
        "identities[1].phone_number"
    );
    assert_eq!(errors[0]["errors"][0]["details"]["index"], 0);
    assert_eq!(
        profile_count(&app).await,
        1,
        "the failed record left nothing behind"
    );
    let owners = app
        .query_json("SELECT count(*) AS n FROM identities WHERE kind = 'phone_number'")
        .await;
    assert_eq!(owners[0]["n"], 1);
    app.stop().await;
}

#[tokio::test]
async fn custom_field_matching_is_idempotent_whatever_the_spelling_of_the_value() {
    let app = TestApp::spawn().await;
    let lines = [
        r#"{"identities":[{"uid":"spaced"}],"custom_fields":{"crm":" K-1 "}}"#,
        r#"{"identities":[{"uid":"exponent"}],"custom_fields":{"crm":1E2}}"#,
        r#"{"identities":[{"uid":"zero"}],"custom_fields":{"crm":-0}}"#,
    ]
    .map(str::to_owned);
    let records: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for round in 0..2 {
        let (_, results, errors) = upsert(&app, "custom_field:crm", &records).await;
        assert!(errors.is_empty(), "{errors:?}");
        let expected = if round == 0 { "created" } else { "updated" };
        assert!(
            results.iter().all(|r| r["result"] == expected),
            "round {round}: {results:?}"
        );
        assert_eq!(profile_count(&app).await, 3, "round {round}");
    }
    // Numbers match by value, whatever their notation: 100, 1e2 and 100.0 are one key.
    let (_, results, _) = upsert(
        &app,
        "custom_field:crm",
        &[
            json!({"custom_fields": {"crm": 100.0}, "last_city": "Rome"}),
            json!({"custom_fields": {"crm": "100"}, "age": 3}),
        ],
    )
    .await;
    assert!(
        results.iter().all(|r| r["result"] == "updated"),
        "{results:?}"
    );
    assert_eq!(profile_count(&app).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn ambiguous_matches_list_a_bounded_number_of_profiles() {
    let app = TestApp::spawn().await;
    let seed: Vec<Value> = (0..25)
        .map(|n| json!({"identities": [{"uid": format!("same-{n}")}], "custom_fields": {"crm": "shared"}}))
        .collect();
    app.run_task("create_core_profiles", &seed).await;
    let (_, _, errors) = upsert(
        &app,
        "custom_field:crm",
        &[json!({"custom_fields": {"crm": "shared"}, "age": 3})],
    )
    .await;
    let error = &errors[0]["errors"][0];
    assert_eq!(error["code"], "AMBIGUOUS_MATCH");
    assert_eq!(
        error["details"]["core-profile-ids"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(error["details"]["total"], 25);
    app.stop().await;
}

#[tokio::test]
async fn records_reaching_one_profile_by_different_keys_apply_in_input_order_across_chunks() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 1).await;
    let profiles = 20;
    let seed: Vec<Value> = (0..profiles)
        .map(|n| json!({"identities": [{"email": format!("a{n}@x.io")}, {"email": format!("b{n}@x.io")}]}))
        .collect();
    let (_, created, _) = app.run_task("create_core_profiles", &seed).await;
    // Per profile: a, b, a, b, ... alternating keys, each record a new city; the last one wins.
    let mut records = Vec::new();
    for round in 0..6 {
        for n in 0..profiles {
            let key = if round % 2 == 0 { "a" } else { "b" };
            records.push(json!({"identities": [{"email": format!("{key}{n}@x.io")}], "last_city": format!("city-{round}")}));
        }
    }
    let (status, _, errors) = upsert(&app, "email", &records).await;
    assert_eq!(status["succeeded"], records.len(), "{errors:?}");
    for profile in &created {
        let city = app
            .query_json(&format!(
                "SELECT last_city FROM core_profiles WHERE id = {}",
                profile["core-profile-id"]
            ))
            .await;
        assert_eq!(city[0]["last_city"], "city-5", "{profile}");
    }
    let deferred = app
        .query_json("SELECT count(*) AS n FROM deferred_chunks")
        .await;
    assert_eq!(deferred[0]["n"], 0, "every deferred chunk was applied");
    app.stop().await;
}

#[tokio::test]
async fn a_poison_chunk_of_an_upsert_task_is_dead_lettered_and_later_chunks_still_apply() {
    let app = TestApp::spawn_with(|settings| {
        settings.gateway.chunk_records = 10;
        settings.worker.max_attempts = 2;
    })
    .await;
    app.execute(
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.last_city = 'poison' THEN RAISE EXCEPTION 'poison record'; END IF; RETURN NEW; END $$",
    )
    .await;
    app.execute("CREATE TRIGGER poison BEFORE INSERT ON core_profiles FOR EACH ROW EXECUTE FUNCTION poison()").await;
    let records: Vec<Value> = (0..30)
        .map(|n| {
            let city = if n == 14 {
                "poison".to_owned()
            } else {
                format!("c{n}")
            };
            json!({"identities": [{"uid": format!("u{n}")}], "last_city": city})
        })
        .collect();
    let (status, _, errors) = upsert(&app, "uid", &records).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(20), Some(10)),
        "{status}"
    );
    assert!(
        errors
            .iter()
            .all(|e| e["errors"][0]["code"] == "PROCESSING_FAILED")
    );
    assert_eq!(profile_count(&app).await, 20);
    app.stop().await;
}
