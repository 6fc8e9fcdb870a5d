//! Traces follow a task from the HTTP request through the broker into the worker: the worker's
//! span is a child of the gateway's span, linked only by the W3C trace context in the message
//! headers.

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use userhub_telemetry::LogSettings;
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_records;

#[tokio::test]
async fn the_worker_span_is_a_child_of_the_gateway_span() {
    let exporter = InMemorySpanExporter::default();
    let settings = LogSettings {
        filter: "info,lapin=warn,tokio_postgres=warn".into(),
        ..LogSettings::default()
    };
    let telemetry =
        userhub_telemetry::init_with_exporter(&settings, "userhub-test", exporter.clone()).unwrap();
    let app = TestApp::spawn().await;
    let (status, _, _) = app.run_task("create_core_profiles", &seed_records()).await;
    assert_eq!(status["succeeded"], 3);
    telemetry.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let accept = spans
        .iter()
        .find(|span| span.name == "accept_task")
        .expect("the gateway span");
    let apply = spans
        .iter()
        .find(|span| span.name == "apply_chunk")
        .expect("the worker span");
    assert_eq!(
        apply.span_context.trace_id(),
        accept.span_context.trace_id(),
        "one trace"
    );
    assert_eq!(
        apply.parent_span_id,
        accept.span_context.span_id(),
        "the worker continues the gateway's span"
    );
    let sql = spans
        .iter()
        .find(|span| span.name == "sql.apply_records")
        .expect("a SQL span");
    assert_eq!(
        sql.parent_span_id,
        apply.span_context.span_id(),
        "the SQL runs inside the worker span"
    );
    assert_ne!(
        accept.parent_span_id,
        SpanId::INVALID,
        "the gateway span is inside the HTTP request span"
    );
    let task_id = status["task_id"].to_string();
    assert!(
        accept
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "task_id" && kv.value.as_str() == task_id),
        "the span names its task"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_with_trace_context_joins_the_callers_trace() {
    let exporter = InMemorySpanExporter::default();
    let settings = LogSettings {
        filter: "info,lapin=warn,tokio_postgres=warn".into(),
        ..LogSettings::default()
    };
    let telemetry =
        userhub_telemetry::init_with_exporter(&settings, "userhub-test", exporter.clone()).unwrap();
    let app = TestApp::spawn().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let response = app
        .authorized(app.client.get(app.task_url(1)))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    telemetry.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let request = spans
        .iter()
        .find(|span| {
            span.name == "request"
                && span
                    .attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "method" && kv.value.as_str() == "GET")
        })
        .expect("the request span");
    assert_eq!(request.span_context.trace_id().to_string(), trace_id);
    assert_eq!(request.parent_span_id.to_string(), parent_id);
    app.stop().await;
}
