//! How outcomes are stored and served: zips made by copying the stored deflate blobs read the same
//! as zips made by merging, blobs stored before frames existed still download, and a large write
//! task leaves fresh planner statistics behind.

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;
use userhub_domain::outcome_line;
use userhub_store::outcome_blob::{OutcomeFrame, inflate_outcomes};
use userhub_tests::{TestApp, unzip};

/// The zip entry exactly as served (bytes, not parsed), to compare two downloads to the byte.
async fn zip_entry(app: &TestApp, task_id: u64, kind: &str) -> String {
    let url = format!("{}/{kind}", app.task_url(task_id));
    let response = app.authorized(app.client.get(url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let entries = unzip(&response.bytes().await.unwrap());
    String::from_utf8(entries[0].1.clone()).unwrap()
}

/// Rewrites the blobs of chunk `chunk_no` as workers wrote them before frames: one line per
/// `\n`, a finished deflate stream, no frame.
async fn store_as_unframed(app: &TestApp, task_id: u64, chunk_no: i32) {
    let client = app.pool.get().await.unwrap();
    for kind in ["results", "errors"] {
        let row = client
            .query_one(
                &format!(
                    "SELECT {kind}, {kind}_crc32, {kind}_size, {kind}_last_index
                       FROM task_chunks WHERE task_id = $1 AND chunk_no = $2"
                ),
                &[&(task_id as i64), &chunk_no],
            )
            .await
            .unwrap();
        let Some(data) = row.get::<_, Option<Vec<u8>>>(0) else {
            continue;
        };
        let frame = OutcomeFrame {
            crc32: row.get::<_, i32>(1) as u32,
            size: row.get::<_, i64>(2) as u64,
            last_index: row.get::<_, i64>(3) as u64,
        };
        let text = inflate_outcomes(&data, Some(&frame)).unwrap();
        let mut old = DeflateEncoder::new(Vec::new(), Compression::fast());
        for line in outcome_line::lines(&text) {
            writeln!(old, "{line}").unwrap();
        }
        let old = old.finish().unwrap();
        client
            .execute(
                &format!(
                    "UPDATE task_chunks SET {kind} = $3, {kind}_crc32 = NULL, {kind}_size = NULL,
                            {kind}_last_index = NULL
                      WHERE task_id = $1 AND chunk_no = $2"
                ),
                &[&(task_id as i64), &chunk_no, &old],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn copied_merged_and_older_blobs_make_the_same_files() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 4).await;
    let records: Vec<Value> = (0..23)
        .map(|n| {
            if n % 5 == 3 {
                json!({"identities": [{"uid": format!("u{n}")}], "age": "old"})
            } else {
                json!({"identities": [{"uid": format!("u{n}")}], "tags": [format!("t,{n}")]})
            }
        })
        .collect();
    let task_id = app.create_task("create_core_profiles", &records).await;
    app.wait_completed(task_id).await;
    let framed = app
        .query_json(&format!(
            "SELECT count(*) AS n FROM task_chunks WHERE task_id = {task_id} AND results_crc32 IS NOT NULL"
        ))
        .await;
    assert_eq!(
        framed[0]["n"], 6,
        "every chunk's results stored with a frame"
    );

    let results = zip_entry(&app, task_id, "results").await;
    let errors = zip_entry(&app, task_id, "errors").await;
    let parsed: Vec<Value> = serde_json::from_str(&results).unwrap();
    let indexes: Vec<u64> = parsed
        .iter()
        .map(|entry| entry["index"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..23).filter(|n| n % 5 != 3).collect();
    assert_eq!(indexes, expected);
    assert!(results.starts_with("[\n{\"index\":0,"), "{results}");
    assert!(results.ends_with("}\n]\n"), "{results}");
    let parsed_errors: Vec<Value> = serde_json::from_str(&errors).unwrap();
    assert_eq!(parsed_errors.len(), 4);
    assert_eq!(parsed_errors[0]["errors"][0]["code"], "INVALID_VALUE_TYPE");
    let ndjson = app.results_ndjson(task_id).await;

    // Chunks 2 and 5 as an older version stored them: the files do not change by a byte.
    store_as_unframed(&app, task_id, 2).await;
    store_as_unframed(&app, task_id, 5).await;
    assert_eq!(zip_entry(&app, task_id, "results").await, results);
    assert_eq!(zip_entry(&app, task_id, "errors").await, errors);
    assert_eq!(app.results_ndjson(task_id).await, ndjson);
    assert_eq!(ndjson.lines().count(), expected.len());
    app.stop().await;
}

#[tokio::test]
async fn a_large_write_task_leaves_fresh_planner_statistics() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..1500)
        .map(|n| {
            json!({
                "identities": [{"uid": format!("user-{n}")}, {"email": format!("user{n}@example.com")}],
                "names": {"first_name": "A reasonably long first name", "last_name": format!("Surname {n}")},
                "tags": ["one", "two", "three"],
            })
        })
        .collect();
    let task_id = app.create_task("create_core_profiles", &records).await;
    app.wait_completed(task_id).await;
    let mut analysed = Value::Null;
    for _ in 0..100 {
        analysed = app
            .query_json(
                "SELECT s.last_analyze IS NOT NULL AS analysed, c.reltuples::int8 AS rows
                   FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                  WHERE s.relname = 'core_profiles'",
            )
            .await;
        if analysed[0]["analysed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(analysed[0]["analysed"], true, "{analysed}");
    assert_eq!(analysed[0]["rows"], 1500, "{analysed}");
    app.stop().await;
}
