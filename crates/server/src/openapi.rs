//! The OpenAPI 3.1 document of the public API, generated from the handlers and the types their
//! responses are serialised from; served at `/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key of the domain"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("The API key as user name, an empty password"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "userhub bulk API",
        description = "Bulk import and export of end-user profiles, compatible with the User Hub Bulk APIs. \
                       Create a task, poll its status, download its results and errors.",
        license(name = "Apache-2.0"),
    ),
    paths(
        userhub_gateway::routes::create_task,
        userhub_gateway::cancel::cancel_task,
        userhub_gateway::retry::retry_task,
        userhub_gateway::revert::revert_task,
        userhub_webhooks::routes::register,
        userhub_webhooks::routes::list,
        userhub_webhooks::routes::remove,
        userhub_webhooks::routes::rotate,
        userhub_webhooks::routes::retire_previous,
        userhub_webhooks::routes::deliveries::log,
        userhub_webhooks::routes::deliveries::one,
        userhub_webhooks::routes::deliveries::send_again,
        userhub_status::list::list,
        userhub_status::limits::get_limits,
        userhub_status::routes::get_status,
        userhub_status::routes::get_results,
        userhub_status::routes::get_errors,
    ),
    components(schemas(
        userhub_gateway::routes::CreatedTask,
        userhub_gateway::routes::CompletedTask,
        userhub_gateway::cancel::CancelRequested,
        userhub_gateway::retry::RetryCreated,
        userhub_gateway::retry::NotRetried,
        userhub_gateway::revert::RevertCreated,
        userhub_webhooks::routes::NewEndpoint,
        userhub_webhooks::routes::EndpointView,
        userhub_webhooks::routes::DeliveryView,
        userhub_webhooks::routes::DeliveryLog,
        userhub_gateway::routes::CreateTaskForm,
        userhub_gateway::routes::CreateTaskUpload,
        userhub_gateway::routes::CreateTaskJson,
        userhub_status::view::TaskStatus,
        userhub_status::view::TaskList,
        userhub_status::limits::DomainLimits,
        userhub_http_common::ErrorBody,
        userhub_http_common::ErrorDetail,
        userhub_http_common::schema::ActionName,
        userhub_http_common::schema::StateName,
        userhub_http_common::schema::OutcomeName,
        userhub_status::routes::DownloadFormatName,
    )),
    modifiers(&Security),
    tags((name = "tasks", description = "Bulk tasks: create, status, results, errors, list")),
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_public_path() {
        let document = document();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = document["paths"].as_object().unwrap();
        for path in [
            "/v2/{domain}/identity/bulk_actions",
            "/v2/{domain}/identity/bulk_actions/{task_id}",
            "/v2/{domain}/identity/bulk_actions/{task_id}/results",
            "/v2/{domain}/identity/bulk_actions/{task_id}/errors",
            "/v2/{domain}/identity/bulk_actions/limits",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert!(document["components"]["schemas"]["TaskStatus"].is_object());
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn task_creation_documents_every_query_parameter_it_reads() {
        let document = document();
        let parameters =
            document["paths"]["/v2/{domain}/identity/bulk_actions"]["post"]["parameters"]
                .as_array()
                .unwrap();
        let documented: Vec<&str> = parameters
            .iter()
            .filter(|parameter| parameter["in"] == "query")
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        for name in userhub_gateway::CREATE_QUERY_PARAMETERS {
            assert!(documented.contains(&name), "{name} in {documented:?}");
        }
    }

    fn references(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|value| references(value, found));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| references(item, found))
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(found.len() > 10);
        for target in found {
            let pointer = target.strip_prefix('#').unwrap();
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
    }
}
