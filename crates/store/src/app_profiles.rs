//! App profiles: set-based insert (one per core profile and app), lock and masked update.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use serde_json::{Map, Value};
use std::collections::HashMap;
use userhub_domain::Field;
use userhub_domain::profile::app::AppProfileFields;

/// One app profile to write: its fields and its whole custom fields map after the change.
#[derive(Debug)]
pub struct AppProfileRow<'a> {
    pub pid: &'a str,
    pub fields: &'a AppProfileFields,
    pub custom_fields: Option<Map<String, Value>>,
}

/// A new app profile's identity.
#[derive(Debug)]
pub struct AppProfileKey<'a> {
    pub pid: &'a str,
    pub core_profile_id: i64,
    pub app_id: &'a str,
}

#[derive(Default)]
struct Columns {
    pids: Vec<String>,
    masks: Vec<i32>,
    custom_fields: Vec<Option<Value>>,
    texts: [Vec<Option<String>>; 8],
    user_level: Vec<Option<i32>>,
    accepted_t_and_c: Vec<Option<bool>>,
    decimals: [Vec<Option<String>>; 2],
}

/// Pushes a field's value (NULL when absent or cleared), setting its mask bit when present.
fn push<T: Clone>(column: &mut Vec<Option<T>>, field: &Field<T>, bit: u32, mask: &mut i32) {
    if !field.is_absent() {
        *mask |= 1 << bit;
    }
    column.push(field.value().cloned());
}

impl Columns {
    /// Mask bits: 0 custom_fields, 1..=8 the text columns in `TEXT_COLUMNS` order, 9 user_level,
    /// 10 accepted_t_and_c, 11 app_rating, 12 lifetime_value.
    fn from_rows(rows: &[AppProfileRow<'_>]) -> Columns {
        let mut columns = Columns::default();
        for row in rows {
            let f = row.fields;
            let mut mask = i32::from(f.custom_fields.is_some());
            columns.pids.push(row.pid.to_owned());
            columns.custom_fields.push(
                row.custom_fields
                    .clone()
                    .filter(|map| !map.is_empty())
                    .map(Value::Object),
            );
            let texts = [
                &f.user_persona,
                &f.user_paying_segment,
                &f.user_vip_segment,
                &f.app_status,
                &f.user_support_status,
                &f.country,
                &f.city,
                &f.language,
            ];
            for (position, field) in texts.into_iter().enumerate() {
                push(
                    &mut columns.texts[position],
                    field,
                    position as u32 + 1,
                    &mut mask,
                );
            }
            let level = f.user_level.clone().map(|level| level as i32);
            push(&mut columns.user_level, &level, 9, &mut mask);
            push(
                &mut columns.accepted_t_and_c,
                &f.accepted_t_and_c,
                10,
                &mut mask,
            );
            push(&mut columns.decimals[0], &f.app_rating, 11, &mut mask);
            push(&mut columns.decimals[1], &f.lifetime_value, 12, &mut mask);
            columns.masks.push(mask);
        }
        columns
    }
}

/// Inserts app profiles whose (core profile, app) pair is free; returns the pids inserted.
/// Rows are inserted in the order given, so the first of two rows for one pair wins.
pub async fn insert_new(
    client: &impl GenericClient,
    domain_id: i64,
    keys: &[AppProfileKey<'_>],
    rows: &[AppProfileRow<'_>],
) -> Result<Vec<String>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let c = Columns::from_rows(rows);
    let cores: Vec<i64> = keys.iter().map(|key| key.core_profile_id).collect();
    let apps: Vec<&str> = keys.iter().map(|key| key.app_id).collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO app_profiles (pid, domain_id, core_profile_id, app_id, custom_fields, user_persona,
                 user_paying_segment, user_vip_segment, app_status, user_support_status, country, city,
                 language, user_level, accepted_t_and_c, app_rating, lifetime_value)
             SELECT u.pid, $1, u.core, u.app, u.custom_fields, u.persona, u.paying, u.vip, u.status,
                    u.support, u.country, u.city, u.language, u.level, u.tandc, u.rating::numeric,
                    u.ltv::numeric
               FROM unnest($2::text[], $3::int8[], $4::text[], $5::jsonb[], $6::text[], $7::text[],
                           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                           $14::int4[], $15::bool[], $16::text[], $17::text[]) WITH ORDINALITY
                    AS u(pid, core, app, custom_fields, persona, paying, vip, status, support, country,
                         city, language, level, tandc, rating, ltv, position)
              ORDER BY u.position
             ON CONFLICT (domain_id, core_profile_id, app_id) DO NOTHING
             RETURNING pid",
        )
        .await?;
    let [
        persona,
        paying,
        vip,
        status,
        support,
        country,
        city,
        language,
    ] = &c.texts;
    let rows = client
        .query(
            &statement,
            &[
                &domain_id,
                &c.pids,
                &cores,
                &apps,
                &c.custom_fields,
                persona,
                paying,
                vip,
                status,
                support,
                country,
                city,
                language,
                &c.user_level,
                &c.accepted_t_and_c,
                &c.decimals[0],
                &c.decimals[1],
            ],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The pids of existing app profiles for `(core profile, app)` pairs.
pub async fn existing_pids(
    client: &impl GenericClient,
    domain_id: i64,
    pairs: &[(i64, &str)],
) -> Result<HashMap<(i64, String), String>, StoreError> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let cores: Vec<i64> = pairs.iter().map(|(core, _)| *core).collect();
    let apps: Vec<&str> = pairs.iter().map(|(_, app)| *app).collect();
    let rows = client
        .query(
            "SELECT a.core_profile_id, a.app_id, a.pid
               FROM app_profiles a JOIN unnest($2::int8[], $3::text[]) AS k(core, app)
                 ON a.core_profile_id = k.core AND a.app_id = k.app
              WHERE a.domain_id = $1",
            &[&domain_id, &cores, &apps],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// Locks the domain's app profiles among `pids` (in pid order) and returns their custom fields.
pub async fn lock_profiles(
    client: &impl GenericClient,
    domain_id: i64,
    pids: &[&str],
) -> Result<HashMap<String, Map<String, Value>>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT pid, custom_fields FROM app_profiles
              WHERE domain_id = $1 AND pid = ANY($2) ORDER BY pid FOR UPDATE",
        )
        .await?;
    let rows = client.query(&statement, &[&domain_id, &pids]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let custom_fields = match row.get::<_, Option<Value>>(1) {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            (row.get(0), custom_fields)
        })
        .collect())
}

/// Applies one folded update per app profile with one statement.
pub async fn update_profiles(
    client: &impl GenericClient,
    domain_id: i64,
    rows: &[AppProfileRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::from_rows(rows);
    let statement = client
        .prepare_cached(
            "UPDATE app_profiles a SET
                 custom_fields = CASE WHEN u.mask & 1 <> 0 THEN u.custom_fields ELSE a.custom_fields END,
                 user_persona = CASE WHEN u.mask & 2 <> 0 THEN u.persona ELSE a.user_persona END,
                 user_paying_segment = CASE WHEN u.mask & 4 <> 0 THEN u.paying ELSE a.user_paying_segment END,
                 user_vip_segment = CASE WHEN u.mask & 8 <> 0 THEN u.vip ELSE a.user_vip_segment END,
                 app_status = CASE WHEN u.mask & 16 <> 0 THEN u.status ELSE a.app_status END,
                 user_support_status = CASE WHEN u.mask & 32 <> 0 THEN u.support ELSE a.user_support_status END,
                 country = CASE WHEN u.mask & 64 <> 0 THEN u.country ELSE a.country END,
                 city = CASE WHEN u.mask & 128 <> 0 THEN u.city ELSE a.city END,
                 language = CASE WHEN u.mask & 256 <> 0 THEN u.language ELSE a.language END,
                 user_level = CASE WHEN u.mask & 512 <> 0 THEN u.level ELSE a.user_level END,
                 accepted_t_and_c = CASE WHEN u.mask & 1024 <> 0 THEN u.tandc ELSE a.accepted_t_and_c END,
                 app_rating = CASE WHEN u.mask & 2048 <> 0 THEN u.rating::numeric ELSE a.app_rating END,
                 lifetime_value = CASE WHEN u.mask & 4096 <> 0 THEN u.ltv::numeric ELSE a.lifetime_value END,
                 updated_at = now()
               FROM unnest($2::text[], $3::int4[], $4::jsonb[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int4[],
                           $14::bool[], $15::text[], $16::text[])
                    AS u(pid, mask, custom_fields, persona, paying, vip, status, support, country, city,
                         language, level, tandc, rating, ltv)
              WHERE a.domain_id = $1 AND a.pid = u.pid",
        )
        .await?;
    let [
        persona,
        paying,
        vip,
        status,
        support,
        country,
        city,
        language,
    ] = &c.texts;
    client
        .execute(
            &statement,
            &[
                &domain_id,
                &c.pids,
                &c.masks,
                &c.custom_fields,
                persona,
                paying,
                vip,
                status,
                support,
                country,
                city,
                language,
                &c.user_level,
                &c.accepted_t_and_c,
                &c.decimals[0],
                &c.decimals[1],
            ],
        )
        .await?;
    Ok(())
}

/// The core profile and app of each of the domain's app profiles among `pids`.
pub async fn owners_of(
    client: &impl GenericClient,
    domain_id: i64,
    pids: &[&str],
) -> Result<HashMap<String, (i64, String)>, StoreError> {
    if pids.is_empty() {
        return Ok(HashMap::new());
    }
    let statement = client
        .prepare_cached(
            "SELECT pid, core_profile_id, app_id FROM app_profiles WHERE domain_id = $1 AND pid = ANY($2)",
        )
        .await?;
    let rows = client.query(&statement, &[&domain_id, &pids]).await?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_follows_the_documented_bits() {
        let fields = AppProfileFields {
            user_persona: Field::Set("p".into()),
            city: Field::Clear,
            lifetime_value: Field::Set("1".into()),
            ..AppProfileFields::default()
        };
        let rows = [AppProfileRow {
            pid: "x",
            fields: &fields,
            custom_fields: None,
        }];
        let columns = Columns::from_rows(&rows);
        assert_eq!(columns.masks[0], (1 << 1) | (1 << 7) | (1 << 12));
        assert_eq!(columns.texts[6], vec![None]);
    }
}
