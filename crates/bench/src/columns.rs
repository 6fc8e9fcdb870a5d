//! Generated records converted to the columns of our own tables, as CSV for `COPY` baselines
//! (the conversion runs before the clock starts, as the protocol says).

use serde_json::Value;
use std::io::Write;
use userhub_datagen::Generator;
use userhub_domain::Field;
use userhub_domain::profile::core::CoreProfileState;
use userhub_domain::record::parse_new_core_profile;

/// Column lists of the `COPY` statements.
pub const PROFILE_COLUMNS: &str = "id, domain_id, names, tags, custom_fields, full_privacy_enabled, last_country, \
    last_city, age, lifetime_value, user_persona, user_vip_segment, user_support_status, accepted_t_and_c, \
    preferred_language, last_active_date";
pub const IDENTITY_COLUMNS: &str = "domain_id, kind, normalized, value, metadata, core_profile_id";
/// The wide table of baseline (b): the profile columns and one column per identity kind.
pub const WIDE_COLUMNS: &str = "id, domain_id, names, tags, custom_fields, full_privacy_enabled, last_country, \
    last_city, age, lifetime_value, user_persona, user_vip_segment, user_support_status, accepted_t_and_c, \
    preferred_language, last_active_date, uid, email, phone";

/// Where the converted records go.
pub struct CreateCsv<'a, W: Write> {
    pub profiles: &'a mut W,
    pub identities: &'a mut W,
    /// Baseline (b): each profile with its identities in one row.
    pub wide: &'a mut W,
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn text(field: &Field<String>) -> String {
    field
        .value()
        .map_or_else(String::new, |value| quoted(value))
}

fn display<T: ToString>(field: &Field<T>) -> String {
    field.value().map_or_else(String::new, ToString::to_string)
}

fn json_or_empty(value: &impl serde::Serialize, empty: bool) -> anyhow::Result<String> {
    Ok(if empty {
        String::new()
    } else {
        quoted(&serde_json::to_string(value)?)
    })
}

/// Writes records `range` as CSV rows of `core_profiles` and `identities` (and of the wide table);
/// profile `n` gets id `first_id + n`. Returns the number of identity rows.
pub fn write_create_csv<W: Write>(
    generator: &Generator,
    range: std::ops::Range<u64>,
    first_id: i64,
    domain_id: i64,
    out: CreateCsv<'_, W>,
) -> anyhow::Result<u64> {
    let CreateCsv {
        profiles,
        identities,
        wide,
    } = out;
    let mut identity_rows = 0;
    for n in range {
        let record = generator.create_record(n).to_string();
        let profile =
            parse_new_core_profile(&record).map_err(|errors| anyhow::anyhow!("{errors:?}"))?;
        let id = first_id + n as i64;
        let f = &profile.fields;
        let mut state = CoreProfileState::default();
        state
            .apply(f)
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        let tags = f.tags.value().map_or_else(String::new, |tags| {
            quoted(&Value::from(tags.clone()).to_string())
        });
        let row = format!(
            "{id},{domain_id},{},{tags},{},{},{},{},{},{},{},{},{},{},{},{}",
            json_or_empty(&state.names, state.names.is_empty())?,
            json_or_empty(&state.custom_fields, state.custom_fields.is_empty())?,
            display(&f.full_privacy_enabled),
            text(&f.last_country),
            text(&f.last_city),
            display(&f.age),
            display(&f.lifetime_value),
            text(&f.user_persona),
            text(&f.user_vip_segment),
            text(&f.user_support_status),
            display(&f.accepted_t_and_c),
            text(&f.preferred_language),
            display(&f.last_active_date),
        );
        writeln!(profiles, "{row}")?;
        let value_of = |kind: &str| {
            profile
                .identities
                .iter()
                .find(|identity| identity.kind().as_str() == kind)
                .map_or_else(String::new, |identity| quoted(identity.value()))
        };
        writeln!(
            wide,
            "{row},{},{},{}",
            value_of("uid"),
            value_of("email"),
            value_of("phone")
        )?;
        for identity in &profile.identities {
            let metadata = if identity.metadata().is_empty() {
                String::new()
            } else {
                quoted(&serde_json::to_string(identity.metadata())?)
            };
            writeln!(
                identities,
                "{domain_id},{},{},{},{metadata},{id}",
                identity.kind().as_str(),
                quoted(identity.normalized()),
                quoted(identity.value())
            )?;
            identity_rows += 1;
        }
    }
    Ok(identity_rows)
}

/// CSV rows `id, last_city, age, user_persona, custom_fields patch` of update records.
pub fn write_update_csv(
    generator: &Generator,
    range: std::ops::Range<u64>,
    first_id: i64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for n in range {
        let update = generator.update_record(n, first_id + n as i64);
        writeln!(
            out,
            "{},{},{},{},{}",
            update["core-profile-id"],
            quoted(update["last_city"].as_str().unwrap_or_default()),
            update["age"],
            quoted(update["user_persona"].as_str().unwrap_or_default()),
            quoted(&update["custom_fields"].to_string()),
        )?;
    }
    Ok(())
}
