//! The oracle of import tests: the records a test sends, and the check that the database holds
//! exactly what they say — every profile once, every field as sent, every count exact.

use crate::TestApp;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `n` create records: uid `u<n>`, city `city-<n>`, custom field `n`.
pub fn numbered_profiles(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|n| {
            json!({
                "identities": [{"uid": format!("u{n}")}, {"email": format!("user{n}@example.com")}],
                "last_city": format!("city-{n}"),
                "custom_fields": {"n": n},
                "tags": ["oracle"]
            })
        })
        .collect()
}

/// Checks the database against `records` created by numbered_profiles, and the task counters.
pub async fn assert_profiles_match(app: &TestApp, records: &[Value]) {
    let rows = app
        .query_json(
            "SELECT i.normalized AS uid, p.last_city, p.custom_fields, p.id,
                    (SELECT count(*) FROM identities e
                      WHERE e.domain_id = p.domain_id AND e.core_profile_id = p.id) AS identities
               FROM identities i
               JOIN core_profiles p ON p.domain_id = i.domain_id AND p.id = i.core_profile_id
              WHERE i.kind = 'uid'",
        )
        .await;
    let stored: BTreeMap<String, Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["uid"].as_str().unwrap().to_owned(), row.clone()))
        .collect();
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(
        profiles as usize,
        records.len(),
        "one profile per record, none twice"
    );
    assert_eq!(stored.len(), records.len(), "every uid stored once");
    for record in records {
        let uid = record["identities"][0]["uid"].as_str().unwrap();
        let row = stored.get(uid).unwrap_or_else(|| panic!("{uid} missing"));
        assert_eq!(row["last_city"], record["last_city"], "{uid}");
        assert_eq!(row["custom_fields"], record["custom_fields"], "{uid}");
        assert_eq!(row["identities"], 2, "{uid} has its two identities");
    }
}

/// Every task completed with `succeeded + failed == total`, one ledger row per chunk.
pub async fn assert_tasks_consistent(app: &TestApp) {
    let tasks = app
        .query_json(
            "SELECT t.id, t.state, t.total, t.succeeded, t.failed, t.processed, t.chunks_total, t.chunks_done,
                    (SELECT count(*) FROM task_chunks c WHERE c.task_id = t.id) AS ledger,
                    (SELECT coalesce(sum(c.records), 0) FROM task_chunks c WHERE c.task_id = t.id) AS ledger_records
               FROM tasks t",
        )
        .await;
    for task in tasks.as_array().unwrap() {
        assert_eq!(task["state"], "completed", "{task}");
        let (total, succeeded, failed) = (
            task["total"].as_i64(),
            task["succeeded"].as_i64().unwrap(),
            task["failed"].as_i64().unwrap(),
        );
        assert_eq!(
            Some(succeeded + failed),
            total,
            "succeeded + failed == total: {task}"
        );
        assert_eq!(task["processed"].as_i64(), total, "{task}");
        assert_eq!(
            task["ledger"], task["chunks_total"],
            "one ledger row per chunk: {task}"
        );
        assert_eq!(task["chunks_done"], task["chunks_total"], "{task}");
        assert_eq!(
            task["ledger_records"].as_i64(),
            total,
            "the ledger accounts for every record: {task}"
        );
    }
}

/// Waits for every task of a faulted import to complete with all `per_task` records succeeded,
/// then checks that the database holds exactly `records` and that every task's counts and
/// ledger agree.
pub async fn assert_import_applied(app: &TestApp, tasks: &[u64], per_task: u64, records: &[Value]) {
    for task in tasks {
        let status = app.wait_completed(*task).await;
        assert_eq!(status["succeeded"], per_task, "{status}");
    }
    assert_profiles_match(app, records).await;
    assert_tasks_consistent(app).await;
}
