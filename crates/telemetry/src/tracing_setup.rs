//! Logs and traces: the global `tracing` subscriber (JSON or text logs) with an OpenTelemetry
//! layer exporting spans over OTLP/HTTP when an endpoint is configured, and W3C trace context
//! carried in message headers so that a task's trace continues from the HTTP request through the
//! broker into the worker.

use crate::{LogFormat, LogSettings, TelemetryError};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the trace pipeline alive; flushes pending spans when dropped.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports every finished span now.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

fn filter(settings: &LogSettings) -> Result<EnvFilter, TelemetryError> {
    match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(&settings.filter),
    }
    .map_err(|error| TelemetryError(error.to_string()))
}

fn provider_with(
    exporter: impl SpanExporter + 'static,
    service: &str,
    batch: bool,
) -> SdkTracerProvider {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if batch {
        builder.with_batch_exporter(exporter)
    } else {
        builder.with_simple_exporter(exporter)
    }
    .build()
}

/// Spans userhub records for traces, whatever the log filter says.
const TRACE_FILTER: &str =
    "info,lapin=off,amq_protocol=off,tokio_postgres=off,hyper=off,h2=off,reqwest=off";

fn install(
    settings: &LogSettings,
    provider: Option<&SdkTracerProvider>,
) -> Result<(), TelemetryError> {
    type Boxed = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;
    let logs: Boxed = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_filter(filter(settings)?)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter(settings)?)
            .boxed(),
    };
    let mut layers = vec![logs];
    if let Some(provider) = provider {
        let traces = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("userhub"))
            .with_filter(EnvFilter::new(TRACE_FILTER))
            .boxed();
        layers.push(traces);
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|error| TelemetryError(error.to_string()))
}

/// Installs logging and, when `otlp_endpoint` is set (e.g. `http://collector:4318`), the export
/// of traces over OTLP/HTTP. Call once at process start.
pub fn init(
    settings: &LogSettings,
    service: &str,
    otlp_endpoint: Option<&str>,
) -> Result<Telemetry, TelemetryError> {
    let provider = match otlp_endpoint.filter(|endpoint| !endpoint.is_empty()) {
        None => None,
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                .build()
                .map_err(|error| TelemetryError(format!("OTLP exporter: {error}")))?;
            Some(provider_with(exporter, service, true))
        }
    };
    install(settings, provider.as_ref())?;
    Ok(Telemetry { provider })
}

/// Installs logging with spans sent to `exporter` as they end (tests use an in-memory one).
pub fn init_with_exporter(
    settings: &LogSettings,
    service: &str,
    exporter: impl SpanExporter + 'static,
) -> Result<Telemetry, TelemetryError> {
    let provider = provider_with(exporter, service, false);
    install(settings, Some(&provider))?;
    Ok(Telemetry {
        provider: Some(provider),
    })
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct Source<'a>(&'a HashMap<String, String>);

impl Extractor for Source<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context (`traceparent`, `tracestate`) of `span`, to put into message headers.
pub fn trace_context_of(span: &tracing::Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut Carrier(&mut headers));
    headers
}

/// Makes `span` a child of the trace context carried in `headers` (no-op without one).
pub fn continue_trace(span: &tracing::Span, headers: &HashMap<String, String>) {
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Source(headers));
        let _ = span.set_parent(parent);
    }
}
