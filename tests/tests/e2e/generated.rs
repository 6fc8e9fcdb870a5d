//! Generated inputs through the whole service: profiles of every shape come back from an export
//! as they were sent, one bad record anywhere fails alone, and upserts end where applying their
//! records one by one in input order ends — and sending them again changes nothing.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use userhub_domain::testing::{create_batch, create_batch_from};
use userhub_tests::TestApp;

/// A runner with a fresh seed, printed so that a failure can be replayed
/// (`USERHUB_TEST_SEED=<n>`).
fn runner() -> TestRunner {
    let seed: u64 = std::env::var("USERHUB_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |elapsed| elapsed.as_nanos() as u64)
        });
    eprintln!("generated inputs: USERHUB_TEST_SEED={seed}");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

fn generate<T: std::fmt::Debug>(runner: &mut TestRunner, strategy: impl Strategy<Value = T>) -> T {
    strategy.new_tree(runner).unwrap().current()
}

#[tokio::test]
async fn generated_profiles_come_back_from_an_export_as_they_were_sent() {
    let app = TestApp::spawn().await;
    let mut runner = runner();
    let batch = generate(&mut runner, create_batch(150..250));
    let lines: Vec<String> = batch.iter().map(|profile| profile.text.clone()).collect();
    let task = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    let status = app.wait_completed(task).await;
    let errors = app.errors(task).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(status["succeeded"], batch.len());
    let ids: Vec<Value> = app
        .results(task)
        .await
        .iter()
        .map(|result| json!({"core-profile-id": result["core-profile-id"]}))
        .collect();
    let export = app.create_task("get_core_profiles", &ids).await;
    app.wait_completed(export).await;
    let exported = app.results(export).await;
    let text = app.results_ndjson(export).await;
    let raw: Vec<&str> = text.lines().collect();
    for (at, profile) in batch.iter().enumerate() {
        let shown = &exported[at];
        for (key, value) in &profile.fields {
            assert_eq!(&shown[key], value, "field {key} of {}", profile.text);
        }
        match &profile.custom_fields_text {
            Some(text) => assert!(
                raw[at].contains(&format!("\"custom_fields\":{text}")),
                "custom fields of {}: {}",
                profile.text,
                raw[at]
            ),
            None => assert!(shown.get("custom_fields").is_none(), "{shown}"),
        }
        let identities: BTreeSet<(String, String)> = shown["identities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|identity| {
                identity
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter_map(|(key, value)| {
                        key.parse::<userhub_domain::IdentityKind>()
                            .ok()
                            .map(|_| (key.clone(), value.as_str().unwrap().to_owned()))
                    })
            })
            .collect();
        let sent: BTreeSet<(String, String)> = profile
            .identities
            .iter()
            .map(|(kind, value)| (kind.as_str().to_owned(), value.clone()))
            .collect();
        assert_eq!(identities, sent, "{}", profile.text);
    }
    app.stop().await;
}

/// Records the database cannot take, each with the field its error names.
const BAD_RECORDS: [(&str, &str); 8] = [
    (
        r#"{"identities":[{"uid":"bad"}],"custom_fields":{"n":1e-99999}}"#,
        "custom_fields.n",
    ),
    (
        r#"{"identities":[{"uid":"bad"}],"custom_fields":{"o":{"n":1e400}}}"#,
        "custom_fields.o.n",
    ),
    (
        r#"{"identities":[{"uid":"bad"}],"last_city":"a\u0000b"}"#,
        "last_city",
    ),
    (r#"{"identities":[{"uid":"bad"}],"age":"1e400"}"#, "age"),
    (
        r#"{"identities":[{"uid":"bad"}],"last_city":"A","last_city":"B"}"#,
        "last_city",
    ),
    (
        r#"{"identities":[{"email":"not an address"}]}"#,
        "identities[0].email",
    ),
    (
        r#"{"identities":[{"uid":"bad"}],"lifetime_value":"1e5"}"#,
        "lifetime_value",
    ),
    (r#"{"identities":[{"uid":"bad"}],"tags":[1]}"#, "tags[0]"),
];

#[tokio::test]
async fn one_bad_record_anywhere_in_a_chunk_fails_alone() {
    let app = TestApp::spawn().await;
    let mut runner = runner();
    for round in 0..3 {
        let batch = generate(&mut runner, create_batch_from(1000 * (round + 1), 40..80));
        let at = generate(&mut runner, 0..=batch.len());
        let (bad, field) = BAD_RECORDS[generate(&mut runner, 0..BAD_RECORDS.len())];
        let mut lines: Vec<String> = batch.iter().map(|profile| profile.text.clone()).collect();
        lines.insert(at, bad.to_owned());
        let task = app
            .create_task_from_lines("create_core_profiles", &lines)
            .await;
        let status = app.wait_completed(task).await;
        let errors = app.errors(task).await;
        assert_eq!(errors.len(), 1, "round {round}: {errors:?}");
        assert_eq!(errors[0]["index"], at, "round {round}");
        assert_eq!(errors[0]["errors"][0]["field"], field, "{bad}: {errors:?}");
        assert_eq!(status["succeeded"], batch.len(), "round {round}: {status}");
    }
    app.stop().await;
}

/// The state a serial application of the upsert records gives: profiles as (emails, city, age).
#[derive(Debug, Default, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ModelProfile {
    emails: BTreeSet<String>,
    city: Option<String>,
    age: Option<i64>,
}

/// One generated upsert: its match email, maybe a second email, maybe a city and an age.
#[derive(Debug, Clone)]
struct Upsert {
    key: String,
    second: Option<String>,
    city: Option<String>,
    age: Option<i64>,
}

impl Upsert {
    fn record(&self) -> Value {
        let mut identities = vec![json!({"email": self.key})];
        if let Some(second) = &self.second {
            identities.push(json!({"email": second}));
        }
        let mut record = json!({"identities": identities});
        if let Some(city) = &self.city {
            record["last_city"] = json!(city);
        }
        if let Some(age) = self.age {
            record["age"] = json!(age);
        }
        record
    }
}

fn upsert_strategy() -> impl Strategy<Value = Upsert> {
    let email = (0..7u8).prop_map(|n| format!("e{n}@x.io"));
    (
        email.clone(),
        proptest::option::weighted(0.3, email),
        proptest::option::of(proptest::sample::select(vec!["Pune", "Rome", "Oslo"])),
        proptest::option::of(1i64..=9),
    )
        .prop_map(|(key, second, city, age)| Upsert {
            second: second.filter(|second| *second != key),
            key,
            city: city.map(str::to_owned),
            age,
        })
}

/// Applies `upserts` one by one to `profiles`; returns which records failed.
fn apply_serially(profiles: &mut Vec<ModelProfile>, upserts: &[Upsert]) -> BTreeSet<usize> {
    let mut failed = BTreeSet::new();
    for (at, upsert) in upserts.iter().enumerate() {
        let owner = |email: &str, profiles: &Vec<ModelProfile>| {
            profiles
                .iter()
                .position(|profile| profile.emails.contains(email))
        };
        let target = owner(&upsert.key, profiles);
        if let Some(second) = &upsert.second {
            if let Some(other) = owner(second, profiles) {
                if Some(other) != target {
                    failed.insert(at);
                    continue;
                }
            }
        }
        let index = target.unwrap_or_else(|| {
            profiles.push(ModelProfile::default());
            profiles.len() - 1
        });
        let profile = &mut profiles[index];
        profile.emails.insert(upsert.key.clone());
        if let Some(second) = &upsert.second {
            profile.emails.insert(second.clone());
        }
        if upsert.city.is_some() {
            profile.city = upsert.city.clone();
        }
        if upsert.age.is_some() {
            profile.age = upsert.age;
        }
    }
    failed
}

async fn stored_profiles(app: &TestApp) -> BTreeSet<ModelProfile> {
    let rows = app
        .query_json(
            "SELECT p.id, p.last_city, p.age::int8 AS age,
                    (SELECT array_agg(i.normalized ORDER BY i.normalized) FROM identities i
                      WHERE i.core_profile_id = p.id AND i.kind = 'email') AS emails
               FROM core_profiles p",
        )
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| ModelProfile {
            emails: row["emails"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|email| email.as_str().unwrap().to_owned())
                .collect(),
            city: row["last_city"].as_str().map(str::to_owned),
            age: row["age"].as_i64(),
        })
        .collect()
}

async fn run_upserts(app: &TestApp, upserts: &[Upsert]) -> (Vec<Value>, Vec<Value>) {
    let records: Vec<Value> = upserts.iter().map(Upsert::record).collect();
    let task = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "email"}),
            &records,
        )
        .await;
    app.wait_completed(task).await;
    (app.results(task).await, app.errors(task).await)
}

#[tokio::test]
async fn upserts_end_where_serial_application_ends_and_a_repeat_changes_nothing() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 3).await;
    let mut runner = runner();
    for round in 0..3 {
        app.execute("DELETE FROM identities").await;
        app.execute("DELETE FROM core_profiles").await;
        let upserts = generate(
            &mut runner,
            proptest::collection::vec(upsert_strategy(), 5..40),
        );
        let mut model = Vec::new();
        let failed = apply_serially(&mut model, &upserts);
        let (_, errors) = run_upserts(&app, &upserts).await;
        let failed_here: BTreeSet<usize> = errors
            .iter()
            .map(|entry| entry["index"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            failed_here, failed,
            "round {round}: {upserts:?}\n{errors:?}"
        );
        let mut model_again = model.clone();
        let expected: BTreeSet<ModelProfile> = model.into_iter().collect();
        let stored = stored_profiles(&app).await;
        assert_eq!(stored, expected, "round {round}: {upserts:?}");

        // The same task again ends where a serial application from that state ends. Records
        // that failed may succeed now (a second email another record of the payload added is
        // now the profile's own); every record that succeeded succeeds again as an update.
        let failed_in_model = apply_serially(&mut model_again, &upserts);
        let (results, errors) = run_upserts(&app, &upserts).await;
        let failed_again: BTreeSet<usize> = errors
            .iter()
            .map(|entry| entry["index"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(failed_again, failed_in_model, "round {round}: {upserts:?}");
        assert!(failed_again.is_subset(&failed), "round {round}");
        let expected_again: BTreeSet<ModelProfile> = model_again.into_iter().collect();
        let stored_again = stored_profiles(&app).await;
        assert_eq!(stored_again, expected_again, "round {round}: {upserts:?}");
        let mut reached: BTreeMap<i64, usize> = BTreeMap::new();
        for result in &results {
            let index = result["index"].as_u64().unwrap() as usize;
            if !failed.contains(&index) {
                assert_eq!(result["result"], "updated", "{result}");
            }
            *reached
                .entry(result["core-profile-id"].as_i64().unwrap())
                .or_default() += 1;
        }
        // Where no record changed its fate, the repeat changes nothing at all: a profile
        // reached by one record alone is not even written.
        if failed_again == failed {
            for result in &results {
                if reached[&result["core-profile-id"].as_i64().unwrap()] == 1 {
                    assert_eq!(result["updated_fields"], json!([]), "{result}");
                }
            }
            assert_eq!(stored_again, stored, "the repeat changed nothing");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn numbers_compare_alike_in_rust_and_in_postgresql() {
    let app = TestApp::spawn().await;
    let mut runner = runner();
    let numbers = generate(
        &mut runner,
        proptest::collection::vec(userhub_domain::testing::number_text(), 300),
    );
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT n, trim_scale(n::numeric)::text FROM unnest($1::text[]) AS n",
            &[&numbers],
        )
        .await
        .unwrap();
    for row in rows {
        let text: String = row.get(0);
        let postgres: String = row.get(1);
        let ours = userhub_domain::values::number::number_parts(&text)
            .unwrap()
            .canonical_decimal();
        assert_eq!(ours, postgres, "{text}");
    }
    app.stop().await;
}

/// Plain decimals as clients send them: leading zeros, trailing zeros, long fractions.
fn plain_decimal() -> impl Strategy<Value = String> {
    ("[0-9]{1,30}", proptest::option::of("[0-9]{0,30}")).prop_map(
        |(whole, fraction)| match fraction {
            Some(fraction) if !fraction.is_empty() => format!("{whole}.{fraction}"),
            _ => whole,
        },
    )
}

#[tokio::test]
async fn imported_decimals_are_stored_as_postgresql_reads_their_text() {
    let app = TestApp::spawn().await;
    let mut runner = runner();
    let decimals = generate(&mut runner, proptest::collection::vec(plain_decimal(), 400));
    let records: Vec<Value> = decimals
        .iter()
        .enumerate()
        .map(|(n, ltv)| json!({"identities": [{"uid": format!("ltv-{n}")}], "lifetime_value": ltv}))
        .collect();
    let (_, results, errors) = app.run_task("create_core_profiles", &records).await;
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<i64> = results
        .iter()
        .map(|result| result["core-profile-id"].as_i64().unwrap())
        .collect();
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT d, d::numeric::text, p.lifetime_value::text \
               FROM unnest($1::text[], $2::int8[]) AS u(d, id) \
               JOIN core_profiles p ON p.id = u.id",
            &[&decimals, &ids],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), decimals.len());
    for row in rows {
        let sent: String = row.get(0);
        let parsed: String = row.get(1);
        let stored: String = row.get(2);
        assert_eq!(stored, parsed, "{sent}");
    }
    app.stop().await;
}
