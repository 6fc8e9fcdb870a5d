//! The webhook API (EXT): `POST/GET /v2/{domain}/webhooks`, `DELETE /v2/{domain}/webhooks/{id}`,
//! `POST .../{id}/rotate`, `DELETE .../{id}/previous_secret`, and the delivery log (see
//! [`deliveries`]). Writes need a write key. Secrets are sealed before they are stored; without
//! a sealing key (`webhooks.secret_key`) nothing can be registered.

pub mod deliveries;

use crate::EVENT_TYPES;
use crate::sealing::Sealer;
use crate::settings::WebhookSettings;
use crate::signature::new_secret;
use crate::target::checked_target;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use userhub_http_common::{ApiContext, ApiError, ErrorBody, Principal, with_api_layers};
use userhub_store::webhooks::{
    Endpoint, delete_endpoint, endpoint_count, insert_endpoint, list_endpoints,
    retire_previous_secret, rotate_secret,
};
use utoipa::ToSchema;

pub use deliveries::{DeliveryLog, DeliveryView};

/// Endpoints a domain may register (each task completion writes one delivery per endpoint).
const MAX_ENDPOINTS: i64 = 20;

/// The routes' shared state.
#[derive(Clone)]
pub struct WebhookApi {
    context: ApiContext,
    settings: Arc<WebhookSettings>,
    /// `None`: no sealing key is set, webhooks are disabled.
    sealer: Option<Arc<Sealer>>,
}

impl WebhookApi {
    /// The sealer, or `503 WEBHOOKS_DISABLED` when no key is set.
    fn sealer(&self) -> Result<&Sealer, ApiError> {
        self.sealer.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "WEBHOOKS_DISABLED",
                "webhooks are disabled on this installation: its operator sets \
                 webhooks.secret_key (USERHUB__WEBHOOKS__SECRET_KEY) to enable them",
            )
        })
    }
}

/// The webhook routes of the API (the sealer comes from `settings`, checked at start-up).
pub fn router(context: ApiContext, settings: WebhookSettings) -> Router {
    let api = Router::new()
        .route("/v2/{domain}/webhooks", post(register).get(list))
        .route("/v2/{domain}/webhooks/{id}", delete(remove))
        .route("/v2/{domain}/webhooks/{id}/rotate", post(rotate))
        .route(
            "/v2/{domain}/webhooks/{id}/previous_secret",
            delete(retire_previous),
        )
        .route(
            "/v2/{domain}/webhooks/{id}/deliveries",
            get(deliveries::log),
        )
        .route(
            "/v2/{domain}/webhooks/{id}/deliveries/{delivery_id}",
            get(deliveries::one),
        )
        .route(
            "/v2/{domain}/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(deliveries::send_again),
        );
    let sealer = settings.sealer().ok().flatten().map(Arc::new);
    with_api_layers(api, &context).with_state(WebhookApi {
        context,
        settings: Arc::new(settings),
        sealer,
    })
}

/// EXT: an endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `http` or `https`; it must resolve to public addresses.
    pub url: String,
    /// Event types: `task.completed`, `profile.changed` (each chunk's profile events).
    pub events: Vec<String>,
}

/// EXT: a registered endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    /// The signing secret (`whsec_...`): only in the answer that made or rotated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn view(endpoint: Endpoint, secret: Option<String>) -> EndpointView {
    EndpointView {
        id: endpoint.id,
        url: endpoint.url,
        events: endpoint.events,
        created_at: timestamp(endpoint.created_at),
        secret,
    }
}

pub(crate) fn writable(principal: &Principal) -> Result<(), ApiError> {
    if principal.read_only {
        return Err(ApiError::forbidden(
            "this API key is read-only and cannot change webhooks",
        ));
    }
    Ok(())
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WEBHOOK", message)
}

pub(crate) fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "WEBHOOK_NOT_FOUND",
        format!("no such {what} in this domain"),
    )
}

pub(crate) fn id_of(text: &str, what: &'static str) -> Result<i64, ApiError> {
    text.parse::<i64>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            format!("`{text}` is not a {what}"),
        )
    })
}

/// Registers an endpoint; the answer carries its secret, once.
#[utoipa::path(
    post, path = "/v2/{domain}/webhooks", tag = "webhooks",
    params(("domain" = String, Path, description = "The tenant")),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "EXT: registered; `secret` is shown only here", body = EndpointView),
        (status = 400, description = "`INVALID_WEBHOOK`: bad JSON, URL, event type, or a target that is not public", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 409, description = "`TOO_MANY_WEBHOOKS`: the domain has 20 endpoints", body = ErrorBody),
        (status = 503, description = "`WEBHOOKS_DISABLED`: the installation has no `webhooks.secret_key`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn register(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    writable(&principal)?;
    let sealer = api.sealer()?;
    let Json(body) = body.map_err(|rejection| invalid(rejection.body_text()))?;
    if body.events.is_empty() {
        return Err(invalid("`events` names no event type".to_owned()));
    }
    if let Some(unknown) = body
        .events
        .iter()
        .find(|event| !EVENT_TYPES.contains(&event.as_str()))
    {
        return Err(invalid(format!(
            "unknown event type `{unknown}`; known: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let target = checked_target(body.url.trim(), api.settings.allow_private_targets)
        .await
        .map_err(|error| invalid(error.to_string()))?;
    let secret = new_secret();
    let client = api.context.database(&principal).get().await?;
    if endpoint_count(&*client, principal.domain.id).await? >= MAX_ENDPOINTS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TOO_MANY_WEBHOOKS",
            format!("a domain has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        ));
    }
    let mut events = body.events;
    events.sort();
    events.dedup();
    let endpoint = insert_endpoint(
        &*client,
        principal.domain.id,
        target.url.as_str(),
        &events,
        &sealer.seal(principal.domain.id, &secret),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(endpoint, Some(secret)))))
}

/// The domain's endpoints (without secrets).
#[utoipa::path(
    get, path = "/v2/{domain}/webhooks", tag = "webhooks",
    params(("domain" = String, Path, description = "The tenant")),
    responses(
        (status = 200, description = "EXT: the endpoints, oldest first", body = Vec<EndpointView>),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn list(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    let client = api.context.database(&principal).get().await?;
    let endpoints = list_endpoints(&*client, principal.domain.id).await?;
    Ok(Json(endpoints.into_iter().map(|e| view(e, None)).collect()))
}

/// Removes an endpoint and its delivery log.
#[utoipa::path(
    delete, path = "/v2/{domain}/webhooks/{id}", tag = "webhooks",
    params(("domain" = String, Path, description = "The tenant"), ("id" = i64, Path, description = "The endpoint")),
    responses(
        (status = 204, description = "EXT: removed"),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn remove(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    writable(&principal)?;
    let id = id_of(&id, "webhook id")?;
    let client = api.context.database(&principal).get().await?;
    if delete_endpoint(&*client, principal.domain.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("webhook"))
    }
}

/// Gives an endpoint a new secret; the previous one keeps signing for the overlap period.
#[utoipa::path(
    post, path = "/v2/{domain}/webhooks/{id}/rotate", tag = "webhooks",
    params(("domain" = String, Path, description = "The tenant"), ("id" = i64, Path, description = "The endpoint")),
    responses(
        (status = 200, description = "EXT: the new secret (shown only here); deliveries carry signatures with both secrets until the overlap ends (24 h) or `DELETE .../previous_secret` retires the old one", body = EndpointView),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn rotate(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id)): Path<(String, String)>,
) -> Result<Json<EndpointView>, ApiError> {
    writable(&principal)?;
    let sealer = api.sealer()?;
    let id = id_of(&id, "webhook id")?;
    let secret = new_secret();
    let overlap = chrono::Duration::hours(i64::from(api.settings.rotation_overlap_hours));
    let client = api.context.database(&principal).get().await?;
    let endpoint = rotate_secret(
        &*client,
        principal.domain.id,
        id,
        &sealer.seal(principal.domain.id, &secret),
        Utc::now() + overlap,
    )
    .await?
    .ok_or_else(|| not_found("webhook"))?;
    Ok(Json(view(endpoint, Some(secret))))
}

/// Stops the previous secret from signing now, instead of at the end of the rotation's overlap.
#[utoipa::path(
    delete, path = "/v2/{domain}/webhooks/{id}/previous_secret", tag = "webhooks",
    params(("domain" = String, Path, description = "The tenant"), ("id" = i64, Path, description = "The endpoint")),
    responses(
        (status = 204, description = "EXT: only the current secret signs from now on"),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn retire_previous(
    State(api): State<WebhookApi>,
    Extension(principal): Extension<Principal>,
    Path((_domain, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    writable(&principal)?;
    let id = id_of(&id, "webhook id")?;
    let client = api.context.database(&principal).get().await?;
    if retire_previous_secret(&*client, principal.domain.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("webhook"))
    }
}
