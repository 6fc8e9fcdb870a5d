//! The version guard against a model: random versioned updates over a few profiles, applied as
//! one task (records in input order, chunk after chunk) or shuffled into concurrent tasks (chunks
//! committing in any order), end where the model says — per record in one task, and at each
//! profile's highest version whatever the order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use userhub_domain::{CoreProfileId, ErrorCode, TaskAction, TaskOptions};
use userhub_profiles::testing::seed_core_profiles;
use userhub_tasks::testing::{OutcomesExt, Protocol};
use userhub_worker_update_core_profiles::UpdateCoreProfiles;

const PROFILES: usize = 3;

/// One generated update: its profile, version and values (`city` may be absent).
#[derive(Debug, Clone)]
struct Update {
    profile: usize,
    version: u32,
    age: u32,
    city: Option<&'static str>,
}

impl Update {
    fn line(&self, ids: &[CoreProfileId]) -> String {
        let city = self
            .city
            .map(|city| format!(",\"last_city\":\"{city}\""))
            .unwrap_or_default();
        format!(
            "{{\"core-profile-id\":{},\"version\":{},\"age\":{}{city}}}\n",
            ids[self.profile], self.version, self.age
        )
    }
}

/// A profile as the model and the database see it: (version, age, city).
type State = (Option<u32>, u32, Option<String>);

/// The model: records apply in order, each only when its version is greater than the stored
/// one. Returns whether each applied, and the end state of every profile.
fn model(updates: &[Update]) -> (Vec<bool>, BTreeMap<usize, State>) {
    let mut states: BTreeMap<usize, State> = (0..PROFILES).map(|p| (p, (None, 1, None))).collect();
    let applied = updates
        .iter()
        .map(|update| {
            let state = states.get_mut(&update.profile).unwrap();
            if state.0.is_some_and(|stored| update.version <= stored) {
                return false;
            }
            *state = (
                Some(update.version),
                update.age,
                update.city.map(str::to_owned).or(state.2.take()),
            );
            true
        })
        .collect();
    (applied, states)
}

fn update_strategy(cities: bool) -> impl Strategy<Value = Update> {
    let city = if cities {
        proptest::option::of(proptest::sample::select(vec!["Pune", "Rome", "Oslo"])).boxed()
    } else {
        proptest::sample::select(vec!["Pune", "Rome", "Oslo"])
            .prop_map(Some)
            .boxed()
    };
    (0..PROFILES, 0u32..12, 1u32..100, city).prop_map(|(profile, version, age, city)| Update {
        profile,
        version,
        age,
        city,
    })
}

async fn start() -> Protocol {
    let mut protocol = Protocol::start().await;
    protocol.run(UpdateCoreProfiles);
    protocol
}

/// Fresh profiles (age 1, no version) for one case.
async fn seed(protocol: &Protocol, case: usize) -> Vec<CoreProfileId> {
    let records: Vec<String> = (0..PROFILES)
        .map(|p| format!("{{\"identities\":[{{\"uid\":\"c{case}p{p}\"}}],\"age\":1}}"))
        .collect();
    let texts: Vec<&str> = records.iter().map(String::as_str).collect();
    seed_core_profiles(protocol.pool(), protocol.domain_id(), &texts).await
}

async fn stored(protocol: &Protocol, ids: &[CoreProfileId]) -> BTreeMap<usize, State> {
    let mut states = BTreeMap::new();
    for (p, id) in ids.iter().enumerate() {
        let text = protocol
            .query_text(&format!(
                "SELECT json_build_array(version, age, last_city)::text FROM core_profiles \
                 WHERE id = {id}"
            ))
            .await
            .unwrap();
        let (version, age, city): (Option<u32>, u32, Option<String>) =
            serde_json::from_str(&text).unwrap();
        states.insert(p, (version, age, city));
    }
    states
}

fn cases(cases: u32, strategy: impl Strategy<Value = Vec<Update>>) -> Vec<Vec<Update>> {
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    (0..cases)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[tokio::test]
async fn one_task_applies_each_record_against_the_version_the_one_before_left() {
    let protocol = start().await;
    let generated = cases(12, proptest::collection::vec(update_strategy(true), 1..30));
    for (case, updates) in generated.iter().enumerate() {
        let ids = seed(&protocol, case).await;
        let lines: String = updates.iter().map(|update| update.line(&ids)).collect();
        let finished = protocol
            .run_task(
                TaskAction::UpdateCoreProfiles,
                TaskOptions::default(),
                &lines,
            )
            .await;
        let (applied, states) = model(updates);
        let outcomes: Vec<bool> = finished
            .summary()
            .into_iter()
            .map(|outcome| match outcome {
                Ok(_) => true,
                Err(ErrorCode::StaleVersion) => false,
                Err(other) => panic!("{other:?} in {updates:?}"),
            })
            .collect();
        assert_eq!(outcomes, applied, "{updates:?}");
        assert_eq!(stored(&protocol, &ids).await, states, "{updates:?}");
    }
}

#[tokio::test]
async fn concurrent_tasks_end_at_each_profile_s_highest_version_in_any_chunk_order() {
    let protocol = start().await;
    // Every record sets every field and versions are distinct per profile, so the end state
    // is the highest version's record whatever order the chunks commit in.
    let strategy = proptest::collection::vec(update_strategy(false), 2..40)
        .prop_map(|mut updates| {
            for (n, update) in updates.iter_mut().enumerate() {
                update.version = n as u32 * PROFILES as u32 + update.profile as u32;
            }
            updates
        })
        .prop_shuffle()
        .prop_flat_map(|updates| {
            let len = updates.len();
            (Just(updates), proptest::collection::vec(1..len, 0..4))
        });
    let mut runner = TestRunner::new(Config::default());
    for case in 0..12 {
        let (updates, mut cuts) = strategy.new_tree(&mut runner).unwrap().current();
        let ids = seed(&protocol, 100 + case).await;
        cuts.sort_unstable();
        cuts.dedup();
        let mut tasks = Vec::new();
        let mut start = 0;
        for end in cuts.into_iter().chain([updates.len()]) {
            let lines: String = updates[start..end]
                .iter()
                .map(|update| update.line(&ids))
                .collect();
            start = end;
            tasks.push(
                protocol
                    .accepted(
                        TaskAction::UpdateCoreProfiles,
                        TaskOptions::default(),
                        &lines,
                    )
                    .await,
            );
        }
        for task in tasks {
            for outcome in protocol.finished(task).await.summary() {
                assert!(
                    matches!(outcome, Ok(_) | Err(ErrorCode::StaleVersion)),
                    "{outcome:?}"
                );
            }
        }
        let mut by_version = updates.clone();
        by_version.sort_by_key(|update| update.version);
        let (_, highest) = model(&by_version);
        assert_eq!(stored(&protocol, &ids).await, highest, "{updates:?}");
    }
}
