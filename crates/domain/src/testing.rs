//! Generated records for property tests (feature `testing`): profiles with every field type,
//! unicode text, numbers in every notation up to the extremes a double holds, and nested custom
//! values with nulls — each with the export a round trip must give back.

use crate::identity::IdentityKind;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Text that needs escaping, non-ASCII letters, emoji and combining marks, without NUL and
/// without leading or trailing whitespace.
pub fn text(max_chars: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z0-9 ._-]{1,8}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\u{1f}".to_owned()),
        Just("é".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("漢字".to_owned()),
        Just("🦀".to_owned()),
        Just("<b>&amp;</b>".to_owned()),
        Just("' OR 1=1 --".to_owned()),
    ];
    prop::collection::vec(pieces, 1..6).prop_map(move |pieces| {
        let joined: String = pieces.concat();
        let trimmed: String = joined.trim().chars().take(max_chars).collect();
        if trimmed.trim().is_empty() {
            "x".to_owned()
        } else {
            trimmed.trim().to_owned()
        }
    })
}

/// The text of a JSON number a double can hold, in any notation (`-0`, `1.50`, `1E+2`,
/// `1e308`, `5e-324`, 30-digit integers...).
pub fn number_text() -> impl Strategy<Value = String> {
    let whole = prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,29}",];
    let fraction = prop::option::of("[0-9]{1,12}");
    let exponent = prop::option::of((
        prop_oneof![Just("e"), Just("E")],
        prop_oneof![Just(""), Just("+"), Just("-")],
        0u32..=300,
    ));
    let general = (any::<bool>(), whole, fraction, exponent).prop_map(
        |(negative, whole, fraction, exponent)| {
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&whole);
            if let Some(fraction) = fraction {
                text.push('.');
                text.push_str(&fraction);
            }
            if let Some((e, sign, digits)) = exponent {
                text.push_str(&format!("{e}{sign}{digits}"));
            }
            text
        },
    );
    prop_oneof![
        4 => general.prop_filter("within what a double holds", |text| {
            crate::values::number::check_number(text).is_ok()
        }),
        1 => prop_oneof![
            Just("-0".to_owned()),
            Just("-0.0".to_owned()),
            Just("1e308".to_owned()),
            Just("-1.7976931348623157e308".to_owned()),
            Just("5e-324".to_owned()),
            Just("1.50".to_owned()),
            Just("123456789012345678901234567890".to_owned()),
        ],
    ]
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A custom field value as compact JSON text: a string, a number, a boolean, or an array or
/// object (nested at most `depth` deep) that may hold nulls.
pub fn custom_value_text(depth: u32) -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        text(60).prop_map(|text| json_string(&text)),
        number_text(),
        any::<bool>().prop_map(|flag| flag.to_string()),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        let member = prop_oneof![3 => inner, 1 => Just("null".to_owned())];
        prop_oneof![
            prop::collection::vec(member.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::btree_map("[a-z]{1,6}", member, 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", json_string(key)))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// One generated create record: its JSON text and what an export must show for it.
#[derive(Debug, Clone)]
pub struct GeneratedProfile {
    pub text: String,
    /// The exported fields (besides ids, timestamps and identities), as JSON values.
    pub fields: Map<String, Value>,
    /// The exact JSON text of `custom_fields` in an export (absent when there are none).
    pub custom_fields_text: Option<String>,
    /// `(kind, value)` of each identity.
    pub identities: Vec<(IdentityKind, String)>,
}

const COUNTRIES: [&str; 6] = ["IN", "PK", "DE", "US", "CI", "JP"];
const LANGUAGES: [&str; 6] = ["en", "hi", "de", "fr", "ja", "uk"];

fn identity_strategy(n: usize) -> impl Strategy<Value = (IdentityKind, String)> {
    prop_oneof![
        text(40).prop_map(move |t| (IdentityKind::Uid, format!("p{n}-{t}"))),
        "[a-z0-9]{1,10}"
            .prop_map(move |local| (IdentityKind::Email, format!("p{n}.{local}@example.com"))),
        "[0-9]{6,10}".prop_map(move |digits| (IdentityKind::PhoneNumber, format!("+{n}{digits}"))),
        text(40).prop_map(move |t| (IdentityKind::SteamId, format!("p{n}-{t}"))),
        text(40).prop_map(move |t| (IdentityKind::DeviceId, format!("p{n}-{t}"))),
    ]
}

/// A create record for the `n`-th profile of a batch (its identities are unique to `n`).
pub fn create_record(n: usize) -> impl Strategy<Value = GeneratedProfile> {
    let identities = prop::collection::vec(identity_strategy(n), 1..4);
    let names = prop::collection::btree_map(
        prop_oneof![
            Just("first_name"),
            Just("last_name"),
            Just("full_name"),
            Just("display_name")
        ],
        text(50),
        0..3,
    );
    let tags = prop::collection::btree_set(text(30), 0..4);
    let custom = prop::collection::btree_map("[a-z][a-z0-9_]{0,10}", custom_value_text(3), 0..6);
    let scalars = (
        prop::option::of(1i64..=149),
        prop::option::of(prop::sample::select(&COUNTRIES[..])),
        prop::option::of(prop::sample::select(&LANGUAGES[..])),
        prop::option::of(text(80)),
        prop::option::of(any::<bool>()),
        prop::option::of("[0-9]{1,12}(\\.[0-9]{1,6})?"),
        prop::option::of(-62_135_596_800_000i64..=253_402_300_799_999),
    );
    (identities, names, tags, custom, scalars).prop_map(
        |(identities, names, tags, custom, scalars)| {
            assemble(unique_identities(identities), names, tags, custom, scalars)
        },
    )
}

/// The drawn optional scalars: age, country, language, city, privacy, lifetime value, last
/// active date.
type Scalars = (
    Option<i64>,
    Option<&'static str>,
    Option<&'static str>,
    Option<String>,
    Option<bool>,
    Option<String>,
    Option<i64>,
);

/// The drawn identities without repeats (by normalized value) and with at most one uid.
fn unique_identities(identities: Vec<(IdentityKind, String)>) -> Vec<(IdentityKind, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<(IdentityKind, String)> = Vec::new();
    let mut has_uid = false;
    for (kind, value) in identities {
        if kind == IdentityKind::Uid && has_uid {
            continue;
        }
        if seen.insert((kind, kind.normalize(&value))) {
            has_uid |= kind == IdentityKind::Uid;
            kept.push((kind, value));
        }
    }
    kept
}

/// The scalar members as JSON text, by key.
fn scalar_members(scalars: Scalars) -> Vec<(&'static str, String)> {
    let (age, country, language, city, privacy, _, last_active) = scalars;
    let mut members: Vec<(&str, String)> = Vec::new();
    if let Some(age) = age {
        members.push(("age", age.to_string()));
    }
    if let Some(country) = country {
        members.push(("last_country", json_string(country)));
    }
    if let Some(language) = language {
        members.push(("preferred_language", json_string(language)));
    }
    if let Some(city) = city {
        members.push(("last_city", json_string(&city)));
    }
    if let Some(privacy) = privacy {
        members.push(("full_privacy_enabled", privacy.to_string()));
    }
    if let Some(ms) = last_active {
        members.push(("last_active_date", ms.to_string()));
    }
    members
}

/// The record's text and the fields its export must show.
fn assemble(
    kept: Vec<(IdentityKind, String)>,
    names: std::collections::BTreeMap<&'static str, String>,
    tags: std::collections::BTreeSet<String>,
    custom: std::collections::BTreeMap<String, String>,
    scalars: Scalars,
) -> GeneratedProfile {
    let mut parts: Vec<String> = Vec::new();
    let identity_texts: Vec<String> = kept
        .iter()
        .map(|(kind, value)| format!("{{{}:{}}}", json_string(kind.as_str()), json_string(value)))
        .collect();
    parts.push(format!("\"identities\":[{}]", identity_texts.join(",")));
    let mut fields = Map::new();
    if !names.is_empty() {
        let names: Map<String, Value> = names
            .into_iter()
            .map(|(key, value)| (key.to_owned(), Value::String(value)))
            .collect();
        parts.push(format!("\"names\":{}", Value::Object(names.clone())));
        fields.insert("names".to_owned(), Value::Object(names));
    }
    let tags: Vec<Value> = tags.into_iter().map(Value::String).collect();
    if !tags.is_empty() {
        parts.push(format!("\"tags\":{}", Value::Array(tags.clone())));
        fields.insert("tags".to_owned(), Value::Array(tags));
    }
    let custom_fields_text = (!custom.is_empty()).then(|| {
        let members: Vec<String> = custom
            .iter()
            .map(|(key, value)| format!("{}:{value}", json_string(key)))
            .collect();
        format!("{{{}}}", members.join(","))
    });
    if let Some(text) = &custom_fields_text {
        parts.push(format!("\"custom_fields\":{text}"));
    }
    let ltv = scalars.5.clone();
    for (key, text) in scalar_members(scalars) {
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            fields.insert(key.to_owned(), value);
        }
        parts.push(format!("{}:{text}", json_string(key)));
    }
    if let Some(ltv) = ltv {
        // Sent as a string, exported as the number with the same digits.
        parts.push(format!("\"lifetime_value\":{}", json_string(&ltv)));
        if let Ok(value) = serde_json::from_str::<Value>(&ltv) {
            fields.insert("lifetime_value".to_owned(), value);
        }
    }
    GeneratedProfile {
        text: format!("{{{}}}", parts.join(",")),
        fields,
        custom_fields_text,
        identities: kept,
    }
}

/// A batch of create records, profile `i` made by `create_record(i)`.
pub fn create_batch(size: std::ops::Range<usize>) -> impl Strategy<Value = Vec<GeneratedProfile>> {
    create_batch_from(0, size)
}

/// A batch whose profiles are numbered from `first` (batches from disjoint ranges share no
/// identity).
pub fn create_batch_from(
    first: usize,
    size: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<GeneratedProfile>> {
    size.prop_flat_map(move |len| (first..first + len).map(create_record).collect::<Vec<_>>())
}
