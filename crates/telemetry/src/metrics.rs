//! Prometheus metrics of every service: counters and histograms updated as work happens, and
//! gauges (open tasks, queue depths, pool use) set just before each scrape. One `Metrics` value
//! is built per process and passed down; its handles are cheap to clone.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub action: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChunkLabels {
    pub action: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub action: String,
    pub queue: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The metrics of one process: one shared set, so that a clone (every request's context holds
/// one) costs one reference count.
#[derive(Clone)]
pub struct Metrics(Arc<MetricSet>);

/// The metric families of a process (reached through [`Metrics`]).
pub struct MetricSet {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily<RouteLabels>,
    pub tasks_accepted: Family<ActionLabels, Counter>,
    pub tasks_completed: Family<ActionLabels, Counter>,
    pub records: Family<OutcomeLabels, Counter>,
    pub chunks: Family<ChunkLabels, Counter>,
    pub chunk_duration: HistogramFamily<ActionLabels>,
    pub open_tasks: Family<StateLabels, Gauge>,
    pub queue_messages: Family<QueueLabels, Gauge>,
    pub pool_connections: Family<StateLabels, Gauge>,
    pub profile_events_published: Counter,
    pub profile_events_pending: Gauge,
}

impl std::ops::Deref for Metrics {
    type Target = MetricSet;

    fn deref(&self) -> &MetricSet {
        &self.0
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("userhub");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_duration.clone(),
        );
        let tasks_accepted = Family::<ActionLabels, Counter>::default();
        registry.register(
            "tasks_accepted",
            "Tasks accepted by the gateway, by task type",
            tasks_accepted.clone(),
        );
        let tasks_completed = Family::<ActionLabels, Counter>::default();
        registry.register(
            "tasks_completed",
            "Tasks completed by this process's workers",
            tasks_completed.clone(),
        );
        let records = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "records_processed",
            "Records processed by outcome (succeeded, failed)",
            records.clone(),
        );
        let chunks = Family::<ChunkLabels, Counter>::default();
        registry.register(
            "chunks",
            "Chunk deliveries by result (applied, duplicate, dropped, retried, dead_lettered)",
            chunks.clone(),
        );
        let chunk_duration: HistogramFamily<ActionLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "chunk_duration_seconds",
            "Time to apply one chunk, by task type",
            chunk_duration.clone(),
        );
        let open_tasks = Family::<StateLabels, Gauge>::default();
        registry.register(
            "open_tasks",
            "Unfinished tasks by state (at scrape time)",
            open_tasks.clone(),
        );
        let queue_messages = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_messages",
            "Messages ready in the broker queues (work, retry, dead) by task type (at scrape time)",
            queue_messages.clone(),
        );
        let pool_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections (size, available, waiting) at scrape time",
            pool_connections.clone(),
        );
        let profile_events_published = Counter::default();
        registry.register(
            "profile_events_published",
            "Profile events confirmed by the broker on the profile-events exchange",
            profile_events_published.clone(),
        );
        let profile_events_pending = Gauge::default();
        registry.register(
            "profile_events_pending",
            "Profile events in the outbox, not yet confirmed by the broker (at scrape time)",
            profile_events_pending.clone(),
        );
        Metrics(Arc::new(MetricSet {
            registry,
            http_requests,
            http_duration,
            tasks_accepted,
            tasks_completed,
            records,
            chunks,
            chunk_duration,
            open_tasks,
            queue_messages,
            pool_connections,
            profile_events_published,
            profile_events_pending,
        }))
    }

    /// Counts a chunk delivery's result.
    pub fn chunk(&self, action: &str, result: &str) {
        self.chunks
            .get_or_create(&ChunkLabels {
                action: action.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Counts records of a task type by outcome.
    pub fn records(&self, action: &str, succeeded: u64, failed: u64) {
        for (outcome, count) in [("succeeded", succeeded), ("failed", failed)] {
            if count > 0 {
                let labels = OutcomeLabels {
                    action: action.to_owned(),
                    outcome: outcome.to_owned(),
                };
                self.records.get_or_create(&labels).inc_by(count);
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_their_names_and_labels() {
        let metrics = Metrics::new();
        metrics.records("create_core_profiles", 3, 1);
        metrics.chunk("create_core_profiles", "applied");
        let labels = HttpLabels {
            method: "POST".into(),
            route: "/v2/{domain}/identity/bulk_actions".into(),
            status: 201,
        };
        metrics.http_requests.get_or_create(&labels).inc();
        let text = metrics.render();
        assert!(text.contains("userhub_records_processed_total{action=\"create_core_profiles\",outcome=\"succeeded\"} 3"), "{text}");
        assert!(text.contains(
            "userhub_chunks_total{action=\"create_core_profiles\",result=\"applied\"} 1"
        ));
        assert!(text.contains("userhub_http_requests_total{method=\"POST\",route=\"/v2/{domain}/identity/bulk_actions\",status=\"201\"} 1"));
        metrics
            .chunk_duration
            .get_or_create(&ActionLabels { action: "x".into() })
            .observe(0.2);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE userhub_chunk_duration_seconds histogram"),
            "{text}"
        );
    }
}
