//! Compatible endpoints of other products (seeds 001–004), served by the gateway process: each
//! module reads its product's request, translates it into a canonical task submitted through
//! the task protocol's intake (same validation, workers, storage and status as the native
//! API) and renders answers and errors in that product's shape. Authentication, rights, rate
//! limits and the failed-key throttle are http-common's.

mod admission;
mod altcraft_import;
mod altcraft_workflows;
mod common;
mod draft;
mod helpcrunch;
mod key_scan;
mod xml;
mod xtremepush;

pub(crate) use common::*;
pub(crate) use draft::{ProfileDraft, RawMembers};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{post, put};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use userhub_domain::options::{InvalidFlag, parse_flag};
use userhub_http_common::{ApiContext, Principal, with_api_layers};
use userhub_tasks::intake::{Intake, Submitter};

/// What the compatible endpoints need besides the API context and the intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatSettings {
    /// Most bytes of a body (decompressed).
    pub max_body_bytes: u64,
    /// Records a request may hold, unless the domain has its own limit.
    pub records_per_task: usize,
    /// Most records a synchronous answer returns.
    pub sync_max_records: usize,
    /// How long a synchronous request waits for its task.
    pub sync_timeout_ms: u64,
}

/// The compatible endpoints' shared state.
#[derive(Clone, Debug)]
pub struct Compat {
    pub context: ApiContext,
    pub intake: Intake,
    pub settings: Arc<CompatSettings>,
}

impl Compat {
    /// `principal` as the intake sees who submits a task.
    pub fn submitter(&self, principal: &Principal) -> Submitter {
        Submitter {
            domain_id: principal.domain.id,
            domain: principal.domain.name.clone(),
            read_only: principal.read_only,
            database: self.context.database(principal),
        }
    }
}

/// A product's boolean field given as text (see [`parse_flag`]).
pub(crate) fn option_flag(name: &str, text: Option<&str>) -> Result<bool, DialectError> {
    parse_flag(name, text)
        .map_err(|invalid: InvalidFlag| DialectError::BadRequest(invalid.to_string()))
}

/// The compatible endpoints (without a fallback, so that they can be merged with others).
pub fn router(compat: Compat) -> Router {
    let context = compat.context.clone();
    let api = Router::new()
        .route(
            "/api/external/import/profile",
            post(xtremepush::import_profiles),
        )
        .route("/api/external/info/task", post(xtremepush::task_info))
        .route("/v1/customers/batch", put(helpcrunch::update_customers))
        .route(
            "/api/v1.1/profiles/import_batch",
            post(altcraft_import::import_batch),
        )
        .route(
            "/api/v1.1/workflows/import_and_start_batch_task",
            post(altcraft_workflows::import_and_start),
        )
        .route(
            "/api/v1.1/tasks/status",
            post(altcraft_workflows::task_status),
        )
        .layer(DefaultBodyLimit::disable());
    with_api_layers(api, &context).with_state(compat)
}

/// One document of a compatible endpoint (for the fuzz target and its corpus): the first byte
/// picks it like the gateway's `fuzz_body` (`% 6 == 5`; others are the gateway's), the rest is
/// read as XML and scanned for its key at every cut. Must answer, never panic.
pub fn fuzz_document(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 6 != 5 {
        return;
    }
    let _ = xml::to_json(body, 10_000);
    for cut in [body.len() / 3, body.len() / 2, body.len()] {
        let complete = cut == body.len();
        let _ = key_scan::json_member(&body[..cut], "token", complete);
        let _ = key_scan::xml_child(&body[..cut], "token", complete);
    }
}
