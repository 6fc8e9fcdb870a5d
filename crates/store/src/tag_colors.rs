//! Tag colours per domain (compatible endpoints whose tags carry a colour).

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use userhub_domain::DomainId;

const SET: &str = include_str!("../queries/tag_colors/set.sql");
const OF: &str = include_str!("../queries/tag_colors/of.sql");

/// Gives tags their colours (`(tag, colour)` pairs; the last of one tag wins).
pub async fn set_colors(
    client: &impl GenericClient,
    domain_id: DomainId,
    colors: &[(String, String)],
) -> Result<(), StoreError> {
    let mut latest: HashMap<&str, &str> = HashMap::new();
    for (tag, color) in colors {
        latest.insert(tag, color);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let tags: Vec<&str> = latest.keys().copied().collect();
    let values: Vec<&str> = tags.iter().map(|tag| latest[tag]).collect();
    let statement = client.prepare_cached(SET).await?;
    client
        .execute(&statement, &[&domain_id.as_i64(), &tags, &values])
        .await?;
    Ok(())
}

/// The colours of `tags` that have one.
pub async fn colors_of(
    client: &impl GenericClient,
    domain_id: DomainId,
    tags: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    if tags.is_empty() {
        return Ok(HashMap::new());
    }
    let statement = client.prepare_cached(OF).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &tags])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}
