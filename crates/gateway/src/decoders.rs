//! The request bodies and records the gateway and workers read, driven as plain functions of
//! bytes: the bodies of the fuzz targets in `fuzz/`, and what `make test` replays from their
//! committed corpus. Each checks the invariants that must hold for any input: no panic, bounded
//! error lists, and values that serialise back to what parses equal.

use crate::request::{inspect_headers, read_request};
use crate::settings::GatewaySettings;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use userhub_domain::profile::core::CoreProfileState;
use userhub_domain::record::sink::MAX_ERRORS_PER_RECORD;
use userhub_domain::record::{
    ExportTarget, parse_app_profile_patch, parse_core_profile_patch, parse_core_profile_upsert,
    parse_export_record, parse_new_app_profile, parse_new_core_profile, record_keys,
};
use userhub_domain::values::CustomFields;
use userhub_domain::{FieldError, IdentityKind, MatchBy};
use userhub_http_common::decode::RecordContent;
use userhub_tasks::intake::validate::validate_records;

fn check_errors(errors: &[FieldError]) {
    assert!(!errors.is_empty(), "a refused record says why");
    assert!(
        errors.len() <= MAX_ERRORS_PER_RECORD,
        "{} errors",
        errors.len()
    );
    assert!(errors.iter().all(|error| !error.message.is_empty()));
}

fn check<T>(result: Result<T, Vec<FieldError>>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(errors) => {
            check_errors(&errors);
            None
        }
    }
}

/// Every record parser on `text`. A record that is accepted keeps its custom values exactly:
/// they serialise to JSON that reads back equal.
pub fn fuzz_record(text: &str) {
    if let Some(profile) = check(parse_new_core_profile(text)) {
        let mut state = CoreProfileState::default();
        if state.apply(&profile.fields).is_ok() {
            let json = state.custom_fields.to_json();
            let back = CustomFields::from_json(&json).expect("stored custom fields read back");
            assert_eq!(back, state.custom_fields, "{json}");
        }
        assert!(!profile.identities.is_empty());
    }
    check(parse_core_profile_patch(text));
    for match_by in [
        MatchBy::Identity(IdentityKind::Email),
        MatchBy::CoreProfileId,
        MatchBy::CustomField("crm".to_owned()),
    ] {
        if let Some(record) = check(parse_core_profile_upsert(text, &match_by)) {
            let _ = record.match_key(&match_by);
        }
    }
    check(parse_new_app_profile(text));
    check(parse_app_profile_patch(text));
    check(parse_export_record(text, ExportTarget::CoreProfiles));
    check(parse_export_record(text, ExportTarget::AppProfiles));
    let _ = record_keys(text, Some("crm"));
}

/// One request body: the first byte picks its encoding (url-encoded form, JSON, multipart,
/// CSV, gzip JSON, Altcraft XML), the rest is the body. Whatever the bytes, the body is read or
/// refused with a request error, and every record it yields goes through the record parsers.
pub fn fuzz_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 6 == 5 {
        // The compatible endpoints' documents: `userhub_compat::fuzz_document`.
        return;
    }
    let (content_type, gzip, query) = match selector % 6 {
        0 => ("application/x-www-form-urlencoded", false, ""),
        1 => ("application/json", false, ""),
        2 => ("multipart/form-data; boundary=XyZ", false, ""),
        3 => ("text/csv", false, "action=create_core_profiles"),
        _ => ("application/json", true, ""),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let settings = GatewaySettings {
        max_body_bytes: 1 << 20,
        max_multipart_bytes: 1 << 20,
        max_line_bytes: 64 * 1024,
        ..GatewaySettings::default()
    };
    let Ok(spec) = inspect_headers(&headers, &settings, false) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    let read = runtime.block_on(read_request(
        spec,
        Body::from(body.to_vec()),
        query,
        &settings,
        100,
    ));
    let Ok(crate::request::CreateRequest::Records(request)) = read else {
        return;
    };
    assert!(request.records.len() <= 100, "the record limit holds");
    let _ = validate_records(
        request.action,
        request.options.match_by.as_ref(),
        &request.records,
    );
    for record in &request.records {
        if let RecordContent::Json(json) = &record.content {
            fuzz_record(json.get());
        }
    }
}
