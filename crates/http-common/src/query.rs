//! A query-string extractor whose rejection is our JSON error (`400 INVALID_PARAMETER` with the
//! parameter in `details`), not axum's plain-text one: e.g. a parameter given twice.

use crate::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The query string, deserialised into `T`.
pub struct QueryParams<T>(pub T);

fn invalid(message: String, parameter: Option<&str>) -> ApiError {
    let error = ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message);
    match parameter {
        Some(parameter) => error.with_details(serde_json::json!({ "parameter": parameter })),
        None => error,
    }
}

/// The first parameter given more than once, if any.
fn repeated_parameter(query: &str) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        if seen.iter().any(|seen| *seen == name) {
            return Some(name.into_owned());
        }
        seen.push(name.into_owned());
    }
    None
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(parameter) = repeated_parameter(parts.uri.query().unwrap_or_default()) {
            return Err(invalid(
                format!("`{parameter}` is given more than once; give each parameter once"),
                Some(&parameter),
            ));
        }
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(invalid(rejection.body_text(), None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_named() {
        assert_eq!(
            repeated_parameter("limit=1&limit=2").as_deref(),
            Some("limit")
        );
        assert_eq!(repeated_parameter("limit=1&state=queued"), None);
        assert_eq!(repeated_parameter("a=1&b=2&a=3").as_deref(), Some("a"));
    }
}
