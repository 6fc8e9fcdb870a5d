//! Records used across tests, written from the facts of the seed documents.

use serde_json::{Value, json};

/// The three records of the seed's "Create Bulk Action Task" example.
pub fn seed_records() -> Vec<Value> {
    vec![
        json!({"identities": [{"uid": "uid-1"}], "last_country": "India", "last_city": "Pune"}),
        json!({"identities": [{"uid": "uid-2"}], "last_country": "Pakistan", "last_city": "Karachi"}),
        json!({"identities": [{"uid": "uid-3"}], "last_country": "Sri Lanka", "last_city": "Colombo"}),
    ]
}

/// The seed's records as the url-encoded `payload` text.
pub fn seed_payload() -> String {
    Value::Array(seed_records()).to_string()
}

/// A full core profile with every field set.
pub fn full_profile(n: usize) -> Value {
    json!({
        "identities": [
            {"uid": format!("user-{n}")},
            {"email": format!("User.{n}@Example.com"), "verified": "true"},
            {"phone_number": format!("+1 (555) 010-{n:04}")}
        ],
        "names": {"first_name": "Ada", "last_name": format!("Lovelace {n}"), "display_name": "ada"},
        "tags": ["vip", "beta"],
        "custom_fields": {"plan": "gold", "seats": 3, "trial": false},
        "full_privacy_enabled": false,
        "last_country": "DEU",
        "last_city": "Berlin",
        "age": "36",
        "lifetime_value": "1234.50",
        "user_persona": "builder",
        "user_vip_segment": "platinum",
        "user_support_status": "active",
        "accepted_t_and_c": "true",
        "preferred_language": "EN",
        "last_active_date": 1742792448000_i64
    })
}
