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
    // Through the last migration before one adds a column (0026, `version`): the rows'
    // columns are then the same before and after, and must hold the same values.
    let applied = userhub_store::run_migrations_through(&pool, 25)
        .await
        .unwrap();
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

/// The columns of `table`'s primary key, in order.
async fn primary_key(client: &userhub_store::PooledClient, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT a.attname::text FROM pg_index i \
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, n) \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
              WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY k.n",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn a_database_with_tasks_is_rekeyed_by_domain() {
    let settings = test_settings();
    userhub_store::create_database_if_missing(&settings.database.url)
        .await
        .unwrap();
    let pool = userhub_store::connect(&settings.database).unwrap();
    userhub_store::run_migrations_through(&pool, 20)
        .await
        .unwrap();
    let client = pool.get().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO domains (id, name) VALUES (5, 'five'), (6, 'six');
             INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total)
             VALUES (101, 5, 'create_core_profiles', 'processing', 'jsonl', 4, 2),
                    (102, 6, 'upsert_core_profiles', 'processing', 'jsonl', 4, 2);
             INSERT INTO task_chunks (task_id, chunk_no, first_index, records, succeeded, failed)
             VALUES (101, 0, 0, 2, 2, 0), (102, 0, 0, 2, 1, 1);
             INSERT INTO deferred_chunks (task_id, chunk_no, body) VALUES (102, 1, '\\x7b7d');
             INSERT INTO profile_event_outbox (task_id, chunk_no, domain, occurred_at,
                 profile_ids, created, field_lists, field_list_of)
             VALUES (101, 0, 'five', 1, '{1,2}', '{t,t}', '{\"\"}', '{0,0}');
             INSERT INTO profile_event_outbox (event_ids, routing_keys, bodies)
             VALUES ('{e}', '{six.updated}', ARRAY['{\"domain\": \"six\"}']);
             INSERT INTO webhook_endpoints (id, domain_id, url, events, secret)
             VALUES (1, 5, 'https://hooks.example/a', '{task.completed}', 'whsec_x');
             INSERT INTO webhook_deliveries (domain_id, endpoint_id, message_id, event_type, payload)
             VALUES (5, 1, 'msg_1', 'task.completed', '{}');",
        )
        .await
        .unwrap();
    drop(client);
    userhub_store::run_migrations(&pool).await.unwrap();
    let client = pool.get().await.unwrap();
    let domains = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<_, i64>(0))
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(
        domains("SELECT domain_id FROM task_chunks ORDER BY task_id").await,
        [5, 6]
    );
    assert_eq!(domains("SELECT domain_id FROM deferred_chunks").await, [6]);
    assert_eq!(
        domains("SELECT d.domain_id FROM webhook_deliveries d JOIN webhook_endpoints e ON (e.domain_id, e.id) = (d.domain_id, d.endpoint_id)").await,
        [5],
        "a delivery keeps its endpoint"
    );
    assert_eq!(
        domains("SELECT domain_id FROM profile_event_outbox ORDER BY id").await,
        [5, 6],
        "both layouts of outbox rows find their domain"
    );
    for (table, key) in [
        ("tasks", vec!["domain_id", "id"]),
        ("task_chunks", vec!["domain_id", "task_id", "chunk_no"]),
        ("deferred_chunks", vec!["domain_id", "task_id", "chunk_no"]),
        ("chunk_bodies", vec!["domain_id", "task_id", "chunk_no"]),
        ("profile_event_outbox", vec!["domain_id", "id"]),
        ("revert_created", vec!["domain_id", "task_id", "chunk_no"]),
        ("core_profile_images", vec!["domain_id", "task_id", "id"]),
        (
            "identity_images",
            vec!["domain_id", "task_id", "kind", "normalized"],
        ),
        ("app_profile_images", vec!["domain_id", "task_id", "pid"]),
        (
            "revert_marks",
            vec!["domain_id", "core_profile_id", "task_id"],
        ),
        ("webhook_endpoints", vec!["domain_id", "id"]),
        ("webhook_deliveries", vec!["domain_id", "id"]),
    ] {
        assert_eq!(primary_key(&client, table).await, key, "{table}");
    }

    // The store finds the converted task by its key, and deleting it removes its ledger rows
    // through the (domain_id, task_id) foreign key.
    let key = userhub_domain::TaskKey::new(
        userhub_domain::DomainId::new(6),
        userhub_domain::TaskId::from(102),
    );
    assert_eq!(
        userhub_store::ledger::applied_chunk_numbers(&client, key)
            .await
            .unwrap(),
        [0]
    );
    let other_domain = userhub_domain::TaskKey::new(userhub_domain::DomainId::new(5), key.task_id);
    assert!(
        userhub_store::ledger::applied_chunk_numbers(&client, other_domain)
            .await
            .unwrap()
            .is_empty(),
        "a task is addressed within its domain"
    );
    // A new task never takes an id another domain has (event and webhook ids name the task).
    let mut taken = userhub_store::tasks::NewTask {
        id: userhub_domain::TaskId::from(101),
        domain_id: userhub_domain::DomainId::new(6),
        action: userhub_domain::TaskAction::CreateCoreProfiles,
        input_format: "jsonl",
        total: 1,
        chunks_total: 1,
        idempotency_key: None,
        request_hash: None,
        chunk_manifest: None,
        options: Default::default(),
        parent_task_id: None,
        accepted_in_batches: false,
    };
    let inserted = userhub_store::tasks::insert_task(&client, &taken)
        .await
        .unwrap();
    assert!(!inserted, "task 101 is domain 5's");
    taken.id = userhub_domain::TaskId::from(103);
    assert!(
        userhub_store::tasks::insert_task(&client, &taken)
            .await
            .unwrap()
    );
    userhub_store::tasks::delete_task(&client, key)
        .await
        .unwrap();
    assert_eq!(
        domains(
            "SELECT domain_id FROM task_chunks UNION ALL SELECT domain_id FROM deferred_chunks"
        )
        .await,
        [5]
    );
    drop(client);
    pool.close();
    userhub_store::drop_database(&settings.database.url)
        .await
        .unwrap();
}
