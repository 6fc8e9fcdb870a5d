//! End-to-end tests against a real `userhub-server all` with real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app_profiles;
mod chunk_schema;
mod create_flow;
mod dashboard;
mod dashboard_browser;
mod dependencies_down;
mod dialects;
mod exports;
mod fuzzing;
mod hostile_input;
mod idempotency;
mod openapi_contract;
mod operations;
mod profile_events;
mod rate_limits;
mod record_errors;
mod redelivery;
mod request_errors;
mod sync_requests;
mod tabular_input;
mod task_list;
mod tenancy;
mod tracing_spans;
mod update_semantics;
mod upserts;
