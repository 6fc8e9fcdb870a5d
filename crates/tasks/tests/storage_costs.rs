//! What keeps the database's share of a bulk write down: planner statistics refreshed once the
//! profile tables outgrew them, with a small sample that does not leak into the pooled
//! connection; per-chunk arrays compressed with LZ4 where the server has it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use userhub_store::statistics::analyze_if_outgrown;
use userhub_tasks::testing::TestDatabase;

#[tokio::test]
async fn outgrown_profile_tables_are_analysed_once_with_a_small_sample() {
    let database = TestDatabase::create().await;
    let client = database.pool.get().await.unwrap();
    assert!(
        !analyze_if_outgrown(&client).await.unwrap(),
        "empty tables have not outgrown anything"
    );
    client
        .batch_execute(
            "INSERT INTO core_profiles (id, domain_id, age)
             SELECT g, 7, (g % 90)::smallint FROM generate_series(1, 20000) g",
        )
        .await
        .unwrap();

    assert!(analyze_if_outgrown(&client).await.unwrap());

    let row = client
        .query_one(
            "SELECT sum(c.reltuples)::float8 AS tuples
               FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
              WHERE i.inhparent = 'core_profiles'::regclass AND c.reltuples > 0",
            &[],
        )
        .await
        .unwrap();
    let tuples: f64 = row.get("tuples");
    assert!(
        (15_000.0..25_000.0).contains(&tuples),
        "the partitions' sizes are known: {tuples}"
    );
    // A statistics target of 10: at most 11 histogram bounds (the default, 100, gives 101).
    let bounds: i32 = client
        .query_one(
            "SELECT cardinality(histogram_bounds::text::bigint[]) FROM pg_stats
              WHERE tablename = 'core_profiles' AND attname = 'id' AND inherited",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((2..=11).contains(&bounds), "histogram of {bounds} bounds");
    let target: String = client
        .query_one("SHOW default_statistics_target", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(target, "100", "the small sample stays inside the analysis");

    assert!(
        !analyze_if_outgrown(&client).await.unwrap(),
        "analysed tables have not outgrown their statistics"
    );
}

#[tokio::test]
async fn per_chunk_arrays_are_compressed_with_lz4_when_the_server_has_it() {
    let database = TestDatabase::create().await;
    let client = database.pool.get().await.unwrap();
    let has_lz4 = client
        .batch_execute("CREATE TEMP TABLE lz4_probe (a text COMPRESSION lz4)")
        .await
        .is_ok();
    let rows = client
        .query(
            "SELECT c.relname || '.' || a.attname AS name, a.attcompression::text AS method
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE (c.relname, a.attname) IN (('revert_created', 'core_profile_ids'),
                    ('profile_event_outbox', 'profile_ids'), ('profile_event_outbox', 'created'),
                    ('webhook_deliveries', 'payload'))
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let expected = if has_lz4 { "l" } else { "" };
    for row in rows {
        let name: String = row.get("name");
        let method: String = row.get("method");
        assert_eq!(method, expected, "{name}");
    }
}
