//! Each per-record error code of the two core-profile task types, reported with index, line,
//! field and the record as input, while the other records of the task succeed.

use serde_json::{Value, json};
use userhub_tests::TestApp;

fn find(errors: &[Value], index: u64) -> &Value {
    errors
        .iter()
        .find(|error| error["index"] == index)
        .unwrap_or_else(|| panic!("no error for record {index}"))
}

fn assert_record_error(errors: &[Value], index: u64, field: &str, code: &str) {
    let entry = find(errors, index);
    assert_eq!(entry["line"], index + 1, "JSONL line of record {index}");
    let matched = entry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|error| error["field"] == field && error["code"] == code);
    assert!(
        matched,
        "record {index}: expected {code} at `{field}`, got {entry}"
    );
}

#[tokio::test]
async fn create_records_report_every_validation_code_with_index_line_and_field() {
    let app = TestApp::spawn().await;
    let long_key = "k".repeat(256);
    let lines = [
        json!({"identities": [{"uid": "ok-0"}]}).to_string(),
        "{\"identities\": [{\"uid\": \"broken\"".to_owned(),
        json!({"last_city": "Pune"}).to_string(),
        json!({"identities": [{"uid": "u2"}], "favourite_colour": "blue"}).to_string(),
        json!({"identities": [{"uid": "u3"}], "age": "old"}).to_string(),
        json!({"identities": [{"email": "no-at-sign"}]}).to_string(),
        json!({"identities": [{"uid": "u5"}], "custom_fields": {long_key.clone(): 1}}).to_string(),
        json!({"identities": [{"uid": "u6"}], "tags": ["x".repeat(101)]}).to_string(),
        json!({"identities": [{"uid": "u7"}], "tags": (0..31).map(|i| i.to_string()).collect::<Vec<_>>()}).to_string(),
        json!({"identities": []}).to_string(),
        json!({"identities": [{"uid": "u8", "email": "a@b.c"}]}).to_string(),
        json!({"identities": [{"uid": "ok-0"}]}).to_string(),
        json!({"identities": [{"uid": "ok-12"}], "names": {"first_name": "nul\u{0}char"}}).to_string(),
        json!({"identities": [{"uid": "ok-13"}], "age": 150}).to_string(),
    ];
    let task_id = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(13)),
        "{status}"
    );
    assert_eq!(status["outcome"], "completed_with_errors");
    assert_eq!(status["errors"], true);
    let errors = app.errors(task_id).await;
    assert_eq!(errors.len(), 13);
    let indexes: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        (1..14).collect::<Vec<u64>>(),
        "errors are in input order"
    );
    assert_record_error(&errors, 1, "", "INVALID_JSON");
    assert_eq!(
        find(&errors, 1)["input"],
        "{\"identities\": [{\"uid\": \"broken\"",
        "raw text echoed"
    );
    assert_record_error(&errors, 2, "identities", "MISSING_REQUIRED_FIELD");
    assert_eq!(
        find(&errors, 2)["input"],
        json!({"last_city": "Pune"}),
        "the record echoed as JSON"
    );
    assert_record_error(&errors, 3, "favourite_colour", "UNSUPPORTED_KEY");
    assert_record_error(&errors, 4, "age", "INVALID_VALUE_TYPE");
    assert_record_error(&errors, 5, "identities[0].email", "INVALID_VALUE");
    assert_record_error(
        &errors,
        6,
        &format!("custom_fields.{long_key}"),
        "EXCEEDED_KEY_LENGTH_LIMIT",
    );
    assert_record_error(&errors, 7, "tags[0]", "EXCEEDED_VALUE_LENGTH_LIMIT");
    assert_record_error(&errors, 8, "tags", "EXCEEDED_COUNT_LIMIT");
    assert_record_error(&errors, 9, "identities", "EMPTY_DATA");
    assert_record_error(&errors, 10, "identities[0]", "INVALID_IDENTITY");
    assert_record_error(&errors, 11, "identities[0].uid", "DUPLICATE_IN_PAYLOAD");
    assert_record_error(&errors, 12, "names.first_name", "INVALID_VALUE");
    assert_record_error(&errors, 13, "age", "INVALID_VALUE");
    let results = app.results(task_id).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["index"], 0);
    let stored = app
        .query_json("SELECT count(*) AS profiles FROM core_profiles")
        .await;
    assert_eq!(
        stored[0]["profiles"], 1,
        "nothing of the bad records was written"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_identity_owned_by_another_profile_is_a_conflict_naming_the_owner() {
    let app = TestApp::spawn().await;
    let (_, first, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": "Taken@Example.com"}]})],
        )
        .await;
    let owner = first[0]["core-profile-id"].as_u64().unwrap();
    let records = [
        json!({"identities": [{"uid": "fresh"}, {"email": "taken@example.COM"}]}),
        json!({"identities": [{"uid": "other"}]}),
    ];
    let (status, results, errors) = app.run_task("create_core_profiles", &records).await;
    assert_eq!(status["failed"], 1);
    assert_eq!(errors[0]["errors"][0]["code"], "IDENTITY_CONFLICT");
    assert_eq!(errors[0]["errors"][0]["field"], "identities[1].email");
    assert_eq!(errors[0]["errors"][0]["details"]["core-profile-id"], owner);
    assert_eq!(results[0]["index"], 1);
    let uids = app
        .query_json("SELECT normalized FROM identities WHERE kind = 'uid' ORDER BY normalized")
        .await;
    assert_eq!(
        uids,
        json!([{"normalized": "other"}]),
        "the failed record's uid was not kept"
    );
    app.stop().await;
}

#[tokio::test]
async fn update_records_report_not_found_duplicates_and_conflicts() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "a"}]}),
                json!({"identities": [{"uid": "b"}, {"email": "b@x.io"}]}),
            ],
        )
        .await;
    let a = created[0]["core-profile-id"].as_u64().unwrap();
    let b = created[1]["core-profile-id"].as_u64().unwrap();
    let records = [
        json!({"core-profile-id": 999_999_999_999_u64, "last_city": "Nowhere"}),
        json!({"core-profile-id": a, "identities": [{"email": "b@x.io"}]}),
        json!({"core-profile-id": a, "identities": [{"phone_number": "+4912345"}]}),
        json!({"core-profile-id": b, "identities": [{"phone_number": "+49 12345"}]}),
        json!({"core-profile-id": a, "identities": [{"uid": "second-uid"}]}),
        json!({"last_city": "no id"}),
        json!({"core-profile-id": a}),
    ];
    let (status, results, errors) = app.run_task("update_core_profiles", &records).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(6)),
        "{errors:?}"
    );
    assert_eq!(results[0]["index"], 2);
    assert_eq!(results[0]["updated_fields"], json!(["identities"]));
    assert_record_error(&errors, 0, "core-profile-id", "NOT_FOUND");
    assert_record_error(&errors, 1, "identities[0].email", "IDENTITY_CONFLICT");
    assert_record_error(
        &errors,
        3,
        "identities[0].phone_number",
        "DUPLICATE_IN_PAYLOAD",
    );
    assert_record_error(&errors, 4, "identities[0].uid", "INVALID_IDENTITY");
    assert_record_error(&errors, 5, "core-profile-id", "MISSING_REQUIRED_FIELD");
    assert_record_error(&errors, 6, "", "EMPTY_DATA");
    app.stop().await;
}
