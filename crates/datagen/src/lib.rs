//! A deterministic generator of profile records in the documented payload shape — 1 to 3
//! identities, names, tags, 3 to 5 custom fields and the scalar fields, about 400 bytes each —
//! for benchmarks, load tests and `userhub generate`. The same seed and index always give the
//! same record, on any machine, so records can be generated in parallel and regenerated to
//! verify what was stored.

use serde_json::{Map, Value, json};
use std::io::Write;

const FIRST_NAMES: [&str; 8] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
];
const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
];
const CITIES: [(&str, &str); 8] = [
    ("DE", "Berlin"),
    ("FR", "Paris"),
    ("IN", "Pune"),
    ("US", "Austin"),
    ("JP", "Osaka"),
    ("BR", "Recife"),
    ("GB", "Leeds"),
    ("LK", "Colombo"),
];
const TAGS: [&str; 6] = ["vip", "beta", "churn-risk", "newsletter", "mobile", "trial"];
const PERSONAS: [&str; 4] = ["builder", "explorer", "collector", "social"];
const SEGMENTS: [&str; 3] = ["gold", "silver", "bronze"];
const LANGUAGES: [&str; 6] = ["en", "de", "fr", "hi", "ja", "pt"];
const PLANS: [&str; 3] = ["free", "pro", "enterprise"];

/// SplitMix64: tiny, fast and stable across versions (unlike library RNGs).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Generates records for one seed.
#[derive(Debug, Clone, Copy)]
pub struct Generator {
    seed: u64,
    /// Whether records carry an external `version` (creates 1, updates 2).
    versioned: bool,
}

/// The `version` of versioned creates; updates carry the next one.
pub const CREATE_VERSION: u64 = 1;

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            versioned: false,
        }
    }

    /// The same records, each with a `version` (for measuring the version guard's cost).
    pub fn with_versions(self) -> Generator {
        Generator {
            versioned: true,
            ..self
        }
    }

    fn rng(&self, n: u64, salt: u64) -> SplitMix {
        SplitMix(self.seed.wrapping_mul(0x1000_0000_01b3) ^ n.wrapping_mul(0x9e37_79b9) ^ salt)
    }

    /// The uid of record `n` (unique per seed).
    pub fn uid(&self, n: u64) -> String {
        format!("user-{}-{n}", self.seed)
    }

    /// A `create_core_profiles` record.
    pub fn create_record(&self, n: u64) -> Value {
        let mut rng = self.rng(n, 1);
        let mut identities = vec![json!({"uid": self.uid(n)})];
        if rng.below(3) > 0 {
            identities.push(json!({"email": format!("user{n}.{}@example.com", self.seed)}));
        }
        if rng.below(3) == 0 {
            identities.push(json!({"phone_number": format!("+1 555 {:07}", n % 10_000_000)}));
        }
        let first = rng.pick(&FIRST_NAMES);
        let last = rng.pick(&LAST_NAMES);
        let (country, city) = CITIES[rng.below(CITIES.len() as u64) as usize];
        let mut custom_fields = Map::new();
        custom_fields.insert("plan".into(), json!(rng.pick(&PLANS)));
        custom_fields.insert("seats".into(), json!(1 + rng.below(500)));
        custom_fields.insert("trial".into(), json!(rng.below(2) == 0));
        for extra in 0..rng.below(3) {
            custom_fields.insert(format!("x{extra}"), json!(rng.below(1000)));
        }
        let tags: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(&TAGS)).collect();
        let mut record = json!({
            "identities": identities,
            "names": {"first_name": first, "last_name": last},
            "tags": tags,
            "custom_fields": custom_fields,
            "last_country": country,
            "last_city": city,
            "age": 18 + rng.below(70),
            "lifetime_value": format!("{}.{:02}", rng.below(10_000), rng.below(100)),
            "user_persona": rng.pick(&PERSONAS),
            "user_vip_segment": rng.pick(&SEGMENTS),
            "preferred_language": rng.pick(&LANGUAGES),
            "last_active_date": 1_740_000_000_000_u64 + rng.below(10_000_000_000),
        });
        // The least used fields appear in about half of the records, as in real data.
        if rng.below(2) == 0 {
            record["full_privacy_enabled"] = json!(rng.below(10) == 0);
            record["user_support_status"] = json!("active");
            record["accepted_t_and_c"] = json!(true);
        }
        if self.versioned {
            record["version"] = json!(CREATE_VERSION);
        }
        record
    }

    /// An `update_core_profiles` record for profile `id`: three fields and one custom field.
    pub fn update_record(&self, n: u64, id: i64) -> Value {
        let mut rng = self.rng(n, 2);
        let (_, city) = CITIES[rng.below(CITIES.len() as u64) as usize];
        let mut record = json!({
            "core-profile-id": id,
            "last_city": city,
            "age": 18 + rng.below(70),
            "user_persona": rng.pick(&PERSONAS),
            "custom_fields": {"plan": rng.pick(&PLANS)},
        });
        if self.versioned {
            record["version"] = json!(CREATE_VERSION + 1);
        }
        record
    }

    /// Writes records `range` as JSONL.
    pub fn write_create_jsonl(
        &self,
        range: std::ops::Range<u64>,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        for n in range {
            serde_json::to_writer(&mut *out, &self.create_record(n))?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_deterministic_and_differ_by_index_and_seed() {
        let generator = Generator::new(7);
        assert_eq!(generator.create_record(42), generator.create_record(42));
        assert_ne!(generator.create_record(42), generator.create_record(43));
        assert_ne!(
            Generator::new(8).create_record(42),
            generator.create_record(42)
        );
        assert_eq!(
            generator.create_record(3)["identities"][0]["uid"],
            "user-7-3"
        );
    }

    #[test]
    fn records_have_the_documented_shape_and_size() {
        let generator = Generator::new(1);
        let mut bytes = 0;
        for n in 0..1_000 {
            let record = generator.create_record(n);
            let identities = record["identities"].as_array().unwrap().len();
            assert!((1..=3).contains(&identities));
            let custom = record["custom_fields"].as_object().unwrap().len();
            assert!((3..=5).contains(&custom), "{custom}");
            bytes += record.to_string().len();
        }
        let average = bytes / 1_000;
        assert!(
            (320..=480).contains(&average),
            "about 400 bytes per record (within 20 %), got {average}"
        );
    }

    #[test]
    fn versioned_records_are_the_same_records_with_a_version() {
        let plain = Generator::new(3);
        let versioned = plain.with_versions();
        let mut create = versioned.create_record(9);
        assert_eq!(create["version"], CREATE_VERSION);
        create.as_object_mut().unwrap().remove("version");
        assert_eq!(create, plain.create_record(9));
        let update = versioned.update_record(9, 5);
        assert_eq!(update["version"], CREATE_VERSION + 1);
    }

    #[test]
    fn updates_change_three_fields_and_one_custom_field() {
        let update = Generator::new(1).update_record(5, 77);
        let keys: Vec<&str> = update
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            vec![
                "core-profile-id",
                "last_city",
                "age",
                "user_persona",
                "custom_fields"
            ]
        );
    }
}
