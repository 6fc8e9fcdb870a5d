//! Core profiles: id allocation and set-based insert, lock and update of a whole chunk at once.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use serde_json::{Map, Value};
use userhub_domain::Field;
use userhub_domain::profile::core::CoreProfileFields;

/// Bits of the per-row mask saying which columns an update writes.
mod column {
    pub const NAMES: i32 = 1 << 0;
    pub const TAGS: i32 = 1 << 1;
    pub const CUSTOM_FIELDS: i32 = 1 << 2;
    pub const FULL_PRIVACY_ENABLED: i32 = 1 << 3;
    pub const LAST_COUNTRY: i32 = 1 << 4;
    pub const LAST_CITY: i32 = 1 << 5;
    pub const AGE: i32 = 1 << 6;
    pub const LIFETIME_VALUE: i32 = 1 << 7;
    pub const USER_PERSONA: i32 = 1 << 8;
    pub const USER_VIP_SEGMENT: i32 = 1 << 9;
    pub const USER_SUPPORT_STATUS: i32 = 1 << 10;
    pub const ACCEPTED_T_AND_C: i32 = 1 << 11;
    pub const PREFERRED_LANGUAGE: i32 = 1 << 12;
    pub const LAST_ACTIVE_DATE: i32 = 1 << 13;
}

/// The final values of one profile's columns, as one row of a set-based statement.
#[derive(Debug)]
pub struct CoreProfileRow<'a> {
    pub id: i64,
    pub fields: &'a CoreProfileFields,
    /// The whole `names` map after the change (`None`: no change, or cleared when masked).
    pub names: Option<Map<String, Value>>,
    pub custom_fields: Option<Map<String, Value>>,
}

/// Column arrays for `unnest`, one entry per profile.
#[derive(Default)]
struct Columns {
    ids: Vec<i64>,
    masks: Vec<i32>,
    names: Vec<Option<Value>>,
    tags: Vec<Option<Value>>,
    custom_fields: Vec<Option<Value>>,
    full_privacy_enabled: Vec<Option<bool>>,
    last_country: Vec<Option<String>>,
    last_city: Vec<Option<String>>,
    age: Vec<Option<i16>>,
    lifetime_value: Vec<Option<String>>,
    user_persona: Vec<Option<String>>,
    user_vip_segment: Vec<Option<String>>,
    user_support_status: Vec<Option<String>>,
    accepted_t_and_c: Vec<Option<bool>>,
    preferred_language: Vec<Option<String>>,
    last_active_date: Vec<Option<i64>>,
}

/// Pushes a field's value (NULL when absent or cleared) and sets its mask bit when present.
fn take<T: Clone, U>(
    field: &Field<T>,
    bit: i32,
    mask: &mut i32,
    convert: impl FnOnce(T) -> U,
) -> Option<U> {
    if !field.is_absent() {
        *mask |= bit;
    }
    field.value().cloned().map(convert)
}

fn non_empty(map: Option<Map<String, Value>>) -> Option<Value> {
    map.filter(|map| !map.is_empty()).map(Value::Object)
}

impl Columns {
    fn from_rows(rows: &[CoreProfileRow<'_>]) -> Columns {
        let mut columns = Columns::default();
        for row in rows {
            let fields = row.fields;
            let mut mask = 0;
            if fields.names.is_some() {
                mask |= column::NAMES;
            }
            if fields.custom_fields.is_some() {
                mask |= column::CUSTOM_FIELDS;
            }
            columns.ids.push(row.id);
            columns.names.push(non_empty(row.names.clone()));
            columns
                .custom_fields
                .push(non_empty(row.custom_fields.clone()));
            let tags = take(&fields.tags, column::TAGS, &mut mask, |tags| {
                Value::Array(tags.into_iter().map(Value::String).collect())
            });
            columns.tags.push(tags);
            columns.full_privacy_enabled.push(take(
                &fields.full_privacy_enabled,
                column::FULL_PRIVACY_ENABLED,
                &mut mask,
                |v| v,
            ));
            columns.last_country.push(take(
                &fields.last_country,
                column::LAST_COUNTRY,
                &mut mask,
                |v| v,
            ));
            columns
                .last_city
                .push(take(&fields.last_city, column::LAST_CITY, &mut mask, |v| v));
            columns
                .age
                .push(take(&fields.age, column::AGE, &mut mask, |v| v as i16));
            columns.lifetime_value.push(take(
                &fields.lifetime_value,
                column::LIFETIME_VALUE,
                &mut mask,
                |v| v,
            ));
            columns.user_persona.push(take(
                &fields.user_persona,
                column::USER_PERSONA,
                &mut mask,
                |v| v,
            ));
            columns.user_vip_segment.push(take(
                &fields.user_vip_segment,
                column::USER_VIP_SEGMENT,
                &mut mask,
                |v| v,
            ));
            columns.user_support_status.push(take(
                &fields.user_support_status,
                column::USER_SUPPORT_STATUS,
                &mut mask,
                |v| v,
            ));
            columns.accepted_t_and_c.push(take(
                &fields.accepted_t_and_c,
                column::ACCEPTED_T_AND_C,
                &mut mask,
                |v| v,
            ));
            columns.preferred_language.push(take(
                &fields.preferred_language,
                column::PREFERRED_LANGUAGE,
                &mut mask,
                |v| v,
            ));
            columns.last_active_date.push(take(
                &fields.last_active_date,
                column::LAST_ACTIVE_DATE,
                &mut mask,
                |v| v,
            ));
            columns.masks.push(mask);
        }
        columns
    }
}

/// Reserves `count` new profile ids.
pub async fn allocate_ids(
    client: &impl GenericClient,
    count: usize,
) -> Result<Vec<i64>, StoreError> {
    let statement = client
        .prepare_cached("SELECT nextval('core_profile_ids') FROM generate_series(1, $1::int)")
        .await?;
    let rows = client.query(&statement, &[&(count as i32)]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Inserts new profiles with one statement.
pub async fn insert_profiles(
    client: &impl GenericClient,
    domain_id: i64,
    rows: &[CoreProfileRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::from_rows(rows);
    let statement = client
        .prepare_cached(
            "INSERT INTO core_profiles (id, domain_id, names, tags, custom_fields, full_privacy_enabled,
                 last_country, last_city, age, lifetime_value, user_persona, user_vip_segment,
                 user_support_status, accepted_t_and_c, preferred_language, last_active_date)
             SELECT u.id, $1, u.names, u.tags, u.custom_fields, u.privacy, u.country, u.city, u.age, u.ltv::numeric, u.persona, u.vip,
                    u.support, u.tandc, u.lang, u.last_active
               FROM unnest($2::int8[], $3::jsonb[], $4::jsonb[], $5::jsonb[], $6::bool[], $7::text[],
                           $8::text[], $9::int2[], $10::text[], $11::text[], $12::text[], $13::text[],
                           $14::bool[], $15::text[], $16::int8[])
                    AS u(id, names, tags, custom_fields, privacy, country, city, age, ltv, persona, vip,
                         support, tandc, lang, last_active)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &domain_id,
                &c.ids,
                &c.names,
                &c.tags,
                &c.custom_fields,
                &c.full_privacy_enabled,
                &c.last_country,
                &c.last_city,
                &c.age,
                &c.lifetime_value,
                &c.user_persona,
                &c.user_vip_segment,
                &c.user_support_status,
                &c.accepted_t_and_c,
                &c.preferred_language,
                &c.last_active_date,
            ],
        )
        .await?;
    Ok(())
}

/// Which of `ids` are core profiles of the domain.
pub async fn existing_ids(
    client: &impl GenericClient,
    domain_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let statement = client
        .prepare_cached("SELECT id FROM core_profiles WHERE domain_id = $1 AND id = ANY($2)")
        .await?;
    let rows = client.query(&statement, &[&domain_id, &ids]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The mergeable state of a profile that an update chunk has locked.
#[derive(Debug, Clone)]
pub struct LockedProfile {
    pub id: i64,
    pub names: Map<String, Value>,
    pub custom_fields: Map<String, Value>,
    /// The normalised uid, if the profile has one.
    pub uid: Option<String>,
}

fn object_of(value: Option<Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Locks the domain's profiles among `ids` in id order (so concurrent chunks cannot deadlock)
/// and returns their mergeable state. Unknown ids and other domains' ids are simply missing.
pub async fn lock_profiles(
    client: &impl GenericClient,
    domain_id: i64,
    ids: &[i64],
) -> Result<Vec<LockedProfile>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT p.id, p.names, p.custom_fields,
                    (SELECT i.normalized FROM identities i
                      WHERE i.core_profile_id = p.id AND i.kind = 'uid') AS uid
               FROM core_profiles p
              WHERE p.domain_id = $1 AND p.id = ANY($2)
              ORDER BY p.id
                FOR UPDATE OF p",
        )
        .await?;
    let rows = client.query(&statement, &[&domain_id, &ids]).await?;
    Ok(rows
        .into_iter()
        .map(|row| LockedProfile {
            id: row.get("id"),
            names: object_of(row.get("names")),
            custom_fields: object_of(row.get("custom_fields")),
            uid: row.get("uid"),
        })
        .collect())
}

/// Applies one folded update per profile with one statement: masked columns are written,
/// the others kept.
pub async fn update_profiles(
    client: &impl GenericClient,
    domain_id: i64,
    rows: &[CoreProfileRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::from_rows(rows);
    let statement = client
        .prepare_cached(
            "UPDATE core_profiles p SET
                 names = CASE WHEN u.mask & 1 <> 0 THEN u.names ELSE p.names END,
                 tags = CASE WHEN u.mask & 2 <> 0 THEN u.tags ELSE p.tags END,
                 custom_fields = CASE WHEN u.mask & 4 <> 0 THEN u.custom_fields ELSE p.custom_fields END,
                 full_privacy_enabled = CASE WHEN u.mask & 8 <> 0 THEN u.privacy ELSE p.full_privacy_enabled END,
                 last_country = CASE WHEN u.mask & 16 <> 0 THEN u.country ELSE p.last_country END,
                 last_city = CASE WHEN u.mask & 32 <> 0 THEN u.city ELSE p.last_city END,
                 age = CASE WHEN u.mask & 64 <> 0 THEN u.age ELSE p.age END,
                 lifetime_value = CASE WHEN u.mask & 128 <> 0 THEN u.ltv::numeric ELSE p.lifetime_value END,
                 user_persona = CASE WHEN u.mask & 256 <> 0 THEN u.persona ELSE p.user_persona END,
                 user_vip_segment = CASE WHEN u.mask & 512 <> 0 THEN u.vip ELSE p.user_vip_segment END,
                 user_support_status = CASE WHEN u.mask & 1024 <> 0 THEN u.support ELSE p.user_support_status END,
                 accepted_t_and_c = CASE WHEN u.mask & 2048 <> 0 THEN u.tandc ELSE p.accepted_t_and_c END,
                 preferred_language = CASE WHEN u.mask & 4096 <> 0 THEN u.lang ELSE p.preferred_language END,
                 last_active_date = CASE WHEN u.mask & 8192 <> 0 THEN u.last_active ELSE p.last_active_date END,
                 updated_at = now()
               FROM unnest($2::int8[], $3::int4[], $4::jsonb[], $5::jsonb[], $6::jsonb[], $7::bool[],
                           $8::text[], $9::text[], $10::int2[], $11::text[], $12::text[], $13::text[],
                           $14::text[], $15::bool[], $16::text[], $17::int8[])
                    AS u(id, mask, names, tags, custom_fields, privacy, country, city, age, ltv, persona,
                         vip, support, tandc, lang, last_active)
              WHERE p.domain_id = $1 AND p.id = u.id",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &domain_id,
                &c.ids,
                &c.masks,
                &c.names,
                &c.tags,
                &c.custom_fields,
                &c.full_privacy_enabled,
                &c.last_country,
                &c.last_city,
                &c.age,
                &c.lifetime_value,
                &c.user_persona,
                &c.user_vip_segment,
                &c.user_support_status,
                &c.accepted_t_and_c,
                &c.preferred_language,
                &c.last_active_date,
            ],
        )
        .await?;
    Ok(())
}

/// Profiles whose custom field `name` holds one of `values` (compared as text, so `77` and
/// `"77"` match alike): `(value, id)` pairs, lowest id first. It reads every profile of the
/// domain that has custom fields; identity matching is the indexed way.
pub async fn ids_by_custom_field(
    client: &impl GenericClient,
    domain_id: i64,
    name: &str,
    values: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare_cached(
            "SELECT custom_fields ->> $2, id FROM core_profiles
              WHERE domain_id = $1 AND custom_fields ->> $2 = ANY($3::text[])
              ORDER BY id",
        )
        .await?;
    let rows = client
        .query(&statement, &[&domain_id, &name, &values])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Serialises upserts matching by one custom field in one domain until the transaction ends:
/// nothing unique guards a custom field, so two chunks must not both create the same profile.
pub async fn lock_custom_field_matching(
    client: &impl GenericClient,
    domain_id: i64,
    name: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 0))",
            &[&domain_id.to_string(), &name],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_marks_present_fields_including_cleared_ones() {
        let fields = CoreProfileFields {
            last_city: Field::Clear,
            age: Field::Set(30),
            ..CoreProfileFields::default()
        };
        let rows = [CoreProfileRow {
            id: 1,
            fields: &fields,
            names: None,
            custom_fields: None,
        }];
        let columns = Columns::from_rows(&rows);
        assert_eq!(columns.masks[0], column::LAST_CITY | column::AGE);
        assert_eq!(columns.last_city[0], None);
        assert_eq!(columns.age[0], Some(30));
    }
}
