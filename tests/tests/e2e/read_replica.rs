//! Read replica (EXT): with `database.read_url` the status of a task and the task list are read
//! from a streaming replica (started by the project's `scripts/replica.sh` with
//! `pg_basebackup -R`, of a primary of the test's own); a task the replica has not replayed yet
//! is read from the primary.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::instances::OwnInstance;

/// A PostgreSQL primary of this test's own on `port` and its streaming replica on `port + 1`
/// (the replica's replay is paused and resumed, which no other test may see).
fn primary_and_replica(port: u16) -> (OwnInstance, OwnInstance) {
    let primary = OwnInstance::postgres(port);
    let replica = OwnInstance::replica_of(&primary, port + 1);
    (primary, replica)
}

/// Runs `sql` on the replica; an error while the replica has not replayed the database or its
/// tables yet.
async fn try_on_replica(
    url: &str,
    sql: &str,
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.query(sql, &[]).await
}

async fn on_replica(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    try_on_replica(url, sql).await.unwrap()
}

#[tokio::test]
async fn status_reads_come_from_the_replica_and_fall_back_to_the_primary() {
    let (primary, standby) = primary_and_replica(5450);
    let replica = standby.url.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.database.url = primary.database_url();
        let database = settings.database.url.rsplit('/').next().unwrap().to_owned();
        settings.database.read_url = Some(format!("{replica}/{database}"));
    })
    .await;
    let database = app
        .settings
        .database
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let replica_db = format!("{replica}/{database}");
    on_replica(
        &format!("{replica}/postgres"),
        "SELECT pg_wal_replay_resume()",
    )
    .await;

    let (status, _, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "r"}]})],
        )
        .await;
    let task_id = status["task_id"].as_u64().unwrap();
    // Wait until the replica has replayed the completed task, then hold its replay.
    let mut replayed = false;
    for _ in 0..600 {
        let rows = try_on_replica(
            &replica_db,
            &format!("SELECT state FROM tasks WHERE id = {task_id}"),
        )
        .await
        .unwrap_or_default();
        if rows.first().map(|row| row.get::<_, String>(0)) == Some("completed".to_owned()) {
            replayed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(replayed, "the replica replays the primary");
    on_replica(
        &format!("{replica}/postgres"),
        "SELECT pg_wal_replay_pause()",
    )
    .await;

    // A change only the primary has: the status does not show it, so it came from the replica.
    app.execute(&format!(
        "UPDATE tasks SET failure_reason = 'only on the primary' WHERE id = {task_id}"
    ))
    .await;
    let status = app.status(task_id).await;
    assert_eq!(status["state"], "completed");
    assert!(status.get("failure_reason").is_none(), "{status}");

    // A task the replica has not seen is read from the primary.
    let fresh = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "s"}]})],
        )
        .await;
    let fresh_status = app.status(fresh).await;
    assert_eq!(fresh_status["task_id"], fresh, "{fresh_status}");
    let listed: Value = app
        .authorized(app.client.get(app.tasks_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<u64> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["task_id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [task_id],
        "the list is the replica's, which has not replayed {fresh}"
    );

    on_replica(
        &format!("{replica}/postgres"),
        "SELECT pg_wal_replay_resume()",
    )
    .await;
    let mut caught_up = false;
    for _ in 0..600 {
        if app.status(task_id).await["failure_reason"] == "only on the primary" {
            caught_up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        caught_up,
        "once replayed, the replica shows the primary's change"
    );
    app.stop().await;
}

/// Index and sequential scans of the database's core profile partitions that the replica
/// itself served (its own statistics); `None` while it has not replayed the tables yet.
async fn replica_profile_scans(replica_db: &str) -> Option<i64> {
    let rows = try_on_replica(
        replica_db,
        "SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0)::int8 \
         FROM pg_stat_user_tables WHERE relname LIKE 'core_profiles%'",
    )
    .await
    .ok()?;
    rows.first().map(|row| row.get(0))
}

/// Exported profiles by their uid.
fn uids(exported: &[Value]) -> Vec<String> {
    let mut uids: Vec<String> = exported
        .iter()
        .map(|profile| {
            profile["identities"]
                .as_array()
                .unwrap()
                .iter()
                .find_map(|identity| identity["uid"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    uids.sort();
    uids
}

#[tokio::test]
async fn exports_read_the_replica_once_it_caught_up_and_the_primary_when_it_lags() {
    let (primary, standby) = primary_and_replica(5452);
    let replica = standby.url.clone();
    let app = TestApp::spawn_with(|settings| {
        settings.database.url = primary.database_url();
        let database = settings.database.url.rsplit('/').next().unwrap().to_owned();
        settings.database.read_url = Some(format!("{replica}/{database}"));
        settings.worker.replica_wait_ms = 5_000;
    })
    .await;
    let database = app.settings.database.url.rsplit('/').next().unwrap();
    let replica_db = format!("{replica}/{database}");
    let control = format!("{replica}/postgres");
    on_replica(&control, "SELECT pg_wal_replay_resume()").await;

    // Exported right after they were created: the export waits for the replica to replay the
    // creates, then reads them there.
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "first"}], "age": 30}),
                json!({"identities": [{"uid": "second"}], "last_city": "Oslo"}),
            ],
        )
        .await;
    let mut scans_before = None;
    for _ in 0..600 {
        scans_before = replica_profile_scans(&replica_db).await;
        if scans_before.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let scans_before = scans_before.expect("the replica replays the test's database");
    let selectors: Vec<Value> = created
        .iter()
        .map(|result| json!({"core-profile-id": result["core-profile-id"]}))
        .collect();
    let (status, exported, _) = app.run_task("get_core_profiles", &selectors).await;
    assert_eq!(status["succeeded"], 2, "{status}");
    assert_eq!(uids(&exported), ["first", "second"]);
    assert_eq!(exported[0]["age"], 30);
    // The replica's statistics count the export's reads (a backend reports them within ~10 s).
    let mut served = false;
    for _ in 0..300 {
        if replica_profile_scans(&replica_db).await.unwrap_or(0) > scans_before {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "the export read the profiles on the replica");

    // Replay held: a profile created now is only on the primary. The export waits for the
    // replica as long as `replica_wait_ms`, then reads the primary, and finds it.
    on_replica(&control, "SELECT pg_wal_replay_pause()").await;
    let (_, fresh, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "fresh"}]})],
        )
        .await;
    let (status, exported, errors) = app
        .run_task(
            "get_core_profiles",
            &[json!({"core-profile-id": fresh[0]["core-profile-id"]})],
        )
        .await;
    on_replica(&control, "SELECT pg_wal_replay_resume()").await;
    assert_eq!(status["succeeded"], 1, "{status} {errors:?}");
    assert_eq!(uids(&exported), ["fresh"]);
    app.stop().await;
}
