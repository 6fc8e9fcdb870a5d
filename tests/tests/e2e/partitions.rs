//! Profiles partitioned by domain (migration 0020): the hot statements of imports, updates and
//! exports touch one partition of each profile table (their plans, with the domain known), and
//! a database holding profiles from before the migration is converted with every row unchanged.

use serde_json::{Value, json};
use tokio_postgres::types::ToSql;
use userhub_tests::{TestApp, test_settings};

/// The partitions of the profile tables a statement's plan reads, e.g. `core_profiles_p3`.
fn partitions_in(plan: &Value, found: &mut Vec<String>) {
    match plan {
        Value::Object(node) => {
            if let Some(Value::String(name)) = node.get("Relation Name") {
                let is_partition = ["core_profiles_p", "identities_p", "app_profiles_p"]
                    .iter()
                    .any(|table| name.starts_with(table));
                if is_partition && !found.contains(name) {
                    found.push(name.clone());
                }
            }
            node.values().for_each(|value| partitions_in(value, found));
        }
        Value::Array(items) => items.iter().for_each(|item| partitions_in(item, found)),
        _ => {}
    }
}

/// The partitions `sql` reads when run with `params`, planned for these values.
async fn partitions_read(app: &TestApp, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<String> {
    let mut client = app.pool.get().await.unwrap();
    let transaction = client.transaction().await.unwrap();
    transaction
        .batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
        .await
        .unwrap();
    let explained = format!("EXPLAIN (FORMAT JSON) {sql}");
    let row = transaction.query_one(&explained, params).await.unwrap();
    let plan: Value = row.get(0);
    transaction.rollback().await.unwrap();
    let mut found = Vec::new();
    partitions_in(&plan, &mut found);
    found
}

#[tokio::test]
async fn a_domain_s_hot_statements_read_one_partition_of_each_profile_table() {
    let app = TestApp::spawn().await;
    // Several domains, so that the tables have rows in several partitions.
    for n in 0..6 {
        app.create_domain_with_key(&format!("{}-{n}", app.domain), false)
            .await;
    }
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "part-1"}, {"email": "p@x.example"}]})],
        )
        .await;
    let id = created[0]["core-profile-id"].as_i64().unwrap();
    let domain: i64 = app.query_json("SELECT domain_id FROM tasks LIMIT 1").await[0]["domain_id"]
        .as_i64()
        .unwrap();
    let ids = vec![id];
    let pids = vec!["p-1".to_owned()];
    let kinds = vec!["uid".to_owned()];
    let keys = vec!["part-1".to_owned()];
    let statements: [(&str, &str, Vec<&(dyn ToSql + Sync)>); 7] = [
        (
            "lock and load core profiles",
            include_str!("../../../crates/store/queries/core_profiles/lock_and_load.sql"),
            vec![&domain, &ids],
        ),
        (
            "identities of profiles",
            include_str!("../../../crates/store/queries/identities/of_profiles.sql"),
            vec![&domain, &ids],
        ),
        (
            "owners of identities",
            include_str!("../../../crates/store/queries/identities/owners.sql"),
            vec![&domain, &kinds, &keys],
        ),
        (
            "lock and load app profiles",
            include_str!("../../../crates/store/queries/app_profiles/lock_and_load.sql"),
            vec![&domain, &pids],
        ),
        (
            "export core profiles",
            include_str!("../../../crates/store/queries/exports/core_profiles.sql"),
            vec![&domain, &ids],
        ),
        (
            "export app profiles",
            include_str!("../../../crates/store/queries/exports/app_profiles.sql"),
            vec![&domain, &pids],
        ),
        (
            "existing core profiles",
            include_str!("../../../crates/store/queries/core_profiles/existing_ids.sql"),
            vec![&domain, &ids],
        ),
    ];
    for (what, sql, params) in statements {
        let read = partitions_read(&app, sql, &params).await;
        let tables: Vec<&str> = read
            .iter()
            .map(|name| name.rsplit_once("_p").unwrap().0)
            .collect();
        let mut distinct = tables.clone();
        distinct.dedup();
        assert!(!read.is_empty(), "{what} reads no profile partition");
        assert_eq!(
            tables.len(),
            distinct.len(),
            "{what} reads more than one partition of a table: {read:?}"
        );
    }
    let tables = app
        .query_json(
            "SELECT c.relname AS name, count(i.inhrelid) AS partitions FROM pg_class c \
             JOIN pg_partitioned_table p ON p.partrelid = c.oid \
             JOIN pg_inherits i ON i.inhparent = c.oid GROUP BY c.relname ORDER BY 1",
        )
        .await;
    assert_eq!(
        tables,
        json!([
            {"name": "app_profiles", "partitions": 8},
            {"name": "core_profiles", "partitions": 8},
            {"name": "identities", "partitions": 8}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_database_with_profiles_is_converted_with_every_row_unchanged() {
    let settings = test_settings();
    userhub_store::create_database_if_missing(&settings.database.url)
        .await
        .unwrap();
    let pool = userhub_store::connect(&settings.database).unwrap();
    userhub_store::run_migrations_through(&pool, 19)
        .await
        .unwrap();
    let client = pool.get().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO core_profiles (id, domain_id, age, names, tags, custom_fields, \
                 lifetime_value, last_active_date)
             SELECT g, g % 7, g % 90, jsonb_build_object('first_name', 'n' || g), '[\"t\"]', \
                 '{\"score\": 1.50, \"big\": 10000000000000000000001}', 10.50, -g
               FROM generate_series(1, 3000) g;
             INSERT INTO identities
             SELECT g % 7, 'uid', 'u' || g, 'U' || g, g, NULL FROM generate_series(1, 3000) g;
             INSERT INTO app_profiles (pid, domain_id, core_profile_id, app_id, app_rating)
             SELECT 'p' || g, g % 7, g, 'game', 4.50 FROM generate_series(1, 500) g;",
        )
        .await
        .unwrap();
    let dump = "SELECT (SELECT json_agg(c ORDER BY id)::text FROM core_profiles c) \
                    || (SELECT json_agg(i ORDER BY domain_id, normalized)::text FROM identities i) \
                    || (SELECT json_agg(a ORDER BY pid)::text FROM app_profiles a)";
    let before: String = client.query_one(dump, &[]).await.unwrap().get(0);
    drop(client);
    let applied = userhub_store::run_migrations(&pool).await.unwrap();
    assert!(applied >= 1, "the partitioning migration ran");
    let client = pool.get().await.unwrap();
    let after: String = client.query_one(dump, &[]).await.unwrap().get(0);
    assert_eq!(
        after, before,
        "every row is the same, exact values included"
    );
    let spread: i64 = client
        .query_one("SELECT count(DISTINCT tableoid) FROM core_profiles", &[])
        .await
        .unwrap()
        .get(0);
    assert!(spread > 1, "seven domains' rows sit in several partitions");
    let partitioned: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_partitioned_table WHERE partrelid IN \
             ('core_profiles'::regclass, 'identities'::regclass, 'app_profiles'::regclass)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(partitioned, 3);
    drop(client);
    pool.close();
    userhub_store::drop_database(&settings.database.url)
        .await
        .unwrap();
}
