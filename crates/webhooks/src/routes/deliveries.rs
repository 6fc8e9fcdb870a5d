//! An endpoint's delivery log (EXT): `GET .../{id}/deliveries?limit=&cursor=` pages through
//! it newest first without payloads (an answer stays small however large the bodies sent
//! were), `GET .../{id}/deliveries/{delivery_id}` shows one delivery with its payload, and
//! `POST .../{delivery_id}/redeliver` sends one again.

use super::{WebhookApi, id_of, not_found, timestamp, writable};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use userhub_http_common::{ApiError, ErrorBody, Principal, QueryParams};
use userhub_store::webhooks::{Delivery, deliveries, delivery, list_endpoints, redeliver};
use utoipa::ToSchema;

/// Deliveries a page shows unless `limit` says fewer.
const DEFAULT_PAGE: i64 = 50;
/// Most deliveries a page shows.
const MAX_PAGE: i64 = 100;

/// EXT: one delivery of an endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up after 24 hours).
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    /// The size of the body sent, in bytes.
    pub payload_bytes: i32,
    /// The body sent: only when one delivery is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<serde_json::value::RawValue>>,
}

/// EXT: a page of an endpoint's delivery log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryLog {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The query of a log page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogQuery {
    /// Deliveries per page, 1 to 100 (50 by default).
    limit: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

fn delivery_view(delivery: Delivery) -> DeliveryView {
    let pending = delivery.state == "pending";
    DeliveryView {
        id: delivery.id,
        webhook_id: delivery.message_id,
        event_type: delivery.event_type,
        state: delivery.state,
        attempts: delivery.attempts,
        last_status: delivery.last_status,
        last_error: delivery.last_error,
        created_at: timestamp(delivery.created_at),
        last_attempt_at: delivery.last_attempt_at.map(timestamp),
        next_attempt_at: pending.then(|| timestamp(delivery.next_attempt_at)),
        delivered_at: delivery.delivered_at.map(timestamp),
        payload_bytes: delivery.payload_bytes,
        payload: delivery.payload.map(|payload| {
            serde_json::value::RawValue::from_string(payload)
                .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned())
        }),
    }
}

fn invalid_parameter(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
}

/// The page size `limit` asks for.
fn page_size(limit: Option<&str>) -> Result<i64, ApiError> {
    let Some(limit) = limit else {
        return Ok(DEFAULT_PAGE);
    };
    match limit.trim().parse::<i64>() {
        Ok(size) if (1..=MAX_PAGE).contains(&size) => Ok(size),
        _ => Err(invalid_parameter(format!(
            "`limit` must be a number from 1 to {MAX_PAGE}, not `{limit}`"
        ))),
    }
}

/// A page of the endpoint's deliveries, newest first, without payloads.
#[utoipa::path(
    get, path = "/v2/{domain}/webhooks/{id}/deliveries", tag = "webhooks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("id" = i64, Path, description = "The endpoint"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "EXT: newest first, without payloads", body = DeliveryLog),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn log(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id)): Path<(String, String)>,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<DeliveryLog>, ApiError> {
    let id = id_of(&id, "webhook id")?;
    let limit = page_size(query.limit.as_deref())?;
    let before = query
        .cursor
        .as_deref()
        .map(|cursor| id_of(cursor, "cursor"))
        .transpose()?;
    let client = api.context.database(&principal).get().await?;
    let endpoints = list_endpoints(&*client, principal.domain.id).await?;
    if !endpoints.iter().any(|endpoint| endpoint.id == id) {
        return Err(not_found("webhook"));
    }
    let page = deliveries(&*client, principal.domain.id, id, limit + 1, before).await?;
    let more = page.len() as i64 > limit;
    let shown: Vec<DeliveryView> = page
        .into_iter()
        .take(limit as usize)
        .map(delivery_view)
        .collect();
    let next_cursor = more
        .then(|| shown.last().map(|last| last.id.to_string()))
        .flatten();
    Ok(Json(DeliveryLog {
        deliveries: shown,
        next_cursor,
    }))
}

/// One delivery of the endpoint, with the payload it sends.
#[utoipa::path(
    get, path = "/v2/{domain}/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("id" = i64, Path, description = "The endpoint"),
        ("delivery_id" = i64, Path, description = "The delivery"),
    ),
    responses(
        (status = 200, description = "EXT: the delivery with its payload", body = DeliveryView),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn one(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id, delivery_id)): Path<(String, String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let id = id_of(&id, "webhook id")?;
    let delivery_id = id_of(&delivery_id, "delivery id")?;
    let client = api.context.database(&principal).get().await?;
    let found = delivery(&*client, principal.domain.id, id, delivery_id)
        .await?
        .ok_or_else(|| not_found("delivery"))?;
    Ok(Json(delivery_view(found)))
}

/// Sends a delivery again now, with the same `webhook-id`.
#[utoipa::path(
    post, path = "/v2/{domain}/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("id" = i64, Path, description = "The endpoint"),
        ("delivery_id" = i64, Path, description = "The delivery"),
    ),
    responses(
        (status = 202, description = "EXT: queued to be sent now, with a new 24-hour window"),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn send_again(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id, delivery_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    writable(&principal)?;
    let id = id_of(&id, "webhook id")?;
    let delivery_id = id_of(&delivery_id, "delivery id")?;
    let client = api.context.database(&principal).get().await?;
    if redeliver(&*client, principal.domain.id, id, delivery_id).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(not_found("delivery"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_one_to_a_hundred_deliveries() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some("100")).unwrap(), 100);
        assert_eq!(page_size(Some("1")).unwrap(), 1);
        for wrong in ["0", "101", "-1", "x", "99999999999999999999"] {
            assert_eq!(
                page_size(Some(wrong)).unwrap_err().code,
                "INVALID_PARAMETER"
            );
        }
    }
}
