//! The operator dashboard at `/ops`: a static page (HTML, JS, CSS; no inline script, a strict
//! content security policy) that polls `/ops/api/overview` with the operator token.

mod cancel;
mod overview;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use userhub_domain::api_key::{constant_time_eq, hash_secret};
use userhub_http_common::{
    ApiError, AuthThrottle, Budgets, ClientAddress, anonymous_budget, auth_throttled,
    record_request, request_id_and_trace,
};
use userhub_store::Pool;
use userhub_telemetry::{BrokerProbe, Metrics};

pub use overview::{DashboardTask, DashboardUpload, Overview, QueueRow, ThroughputSeries};

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the dashboard reads, and the token that opens it.
#[derive(Clone)]
pub struct Dashboard {
    pub pool: Pool,
    /// For queue depths, from the process that composes the dashboard (the status service
    /// reads PostgreSQL only); `None` where the process has no broker connection.
    pub queue_depths: Option<Arc<dyn BrokerProbe>>,
    /// `None` disables the data endpoint.
    pub operator_token: Option<Arc<str>>,
    pub metrics: Metrics,
    /// Failed tokens per client address (shared with the API's keys).
    pub auth_throttle: Arc<AuthThrottle>,
    /// The process's request slots: dashboard requests hold anonymous ones.
    pub budgets: Arc<Budgets>,
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// Admits requests that present the operator token as `Authorization: Bearer <token>`.
async fn require_operator(
    State(dashboard): State<Dashboard>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = &dashboard.operator_token else {
        return Err(ApiError::not_found(
            "DASHBOARD_DISABLED",
            "the operator dashboard is disabled: set ops.operator_token \
             (USERHUB__OPS__OPERATOR_TOKEN) to enable it",
        ));
    };
    let client = request.extensions().get::<ClientAddress>().copied();
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let refusal = match presented {
        Some(token) if constant_time_eq(&hash_secret(token), &hash_secret(expected)) => {
            return Ok(next.run(request).await);
        }
        Some(_) => ApiError::unauthorized("the operator token is not valid"),
        None => ApiError::unauthorized(
            "the dashboard needs the operator token: `Authorization: Bearer <token>`",
        ),
    };
    let throttle = &dashboard.auth_throttle;
    match throttle.fail(client, None) {
        Ok(()) => Err(refusal),
        Err(retry_after) => Err(auth_throttled(throttle.limit(), retry_after)),
    }
}

async fn overview(State(dashboard): State<Dashboard>) -> Result<Response, ApiError> {
    let overview = overview::collect(&dashboard).await?;
    let mut response = axum::Json(overview).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn redirect_to_page() -> impl IntoResponse {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "/ops/")],
    )
}

/// The dashboard routes: `/ops/`, its assets, `/ops/api/overview` and the operator's cancel.
pub fn router(dashboard: Dashboard) -> Router {
    let api = Router::new()
        .route("/ops/api/overview", get(overview))
        .route(
            "/ops/api/tasks/{task_id}/cancel",
            axum::routing::post(cancel::cancel_task),
        )
        .layer(from_fn_with_state(dashboard.clone(), require_operator));
    Router::new()
        .route("/ops", get(redirect_to_page))
        .route("/ops/", get(page))
        .route("/ops/dashboard.js", get(script))
        .route("/ops/dashboard.css", get(style))
        .merge(api)
        .layer(from_fn_with_state(
            Arc::clone(&dashboard.budgets),
            anonymous_budget,
        ))
        .layer(from_fn_with_state(
            dashboard.metrics.clone(),
            record_request,
        ))
        .layer(from_fn(request_id_and_trace))
        .with_state(dashboard)
}
