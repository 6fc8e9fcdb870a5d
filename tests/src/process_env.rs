//! The environment that gives a `userhub-server` process a test's settings.

use crate::METRICS_TOKEN;
use userhub_server::Settings;

/// The environment that makes a `userhub-server` process use the same database and broker names
/// as `settings` (for tests that run services as separate processes).
pub fn settings_env(settings: &Settings) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "USERHUB__DATABASE__URL".to_owned(),
            settings.database.url.clone(),
        ),
        (
            "USERHUB__DATABASE__POOL_SIZE".to_owned(),
            settings.database.pool_size.to_string(),
        ),
        (
            "USERHUB__BROKER__URL".to_owned(),
            settings.broker.url.clone(),
        ),
        (
            "USERHUB__BROKER__PREFIX".to_owned(),
            settings.broker.prefix.clone(),
        ),
        (
            "USERHUB__BROKER__PREFETCH".to_owned(),
            settings.broker.prefetch.to_string(),
        ),
        (
            "USERHUB__BROKER__QUEUE_TYPE".to_owned(),
            match settings.broker.queue_type {
                userhub_broker::QueueType::Quorum => "quorum",
                userhub_broker::QueueType::Classic => "classic",
            }
            .to_owned(),
        ),
        (
            "USERHUB__BROKER__SHARDS".to_owned(),
            settings.broker.shards.to_string(),
        ),
        ("USERHUB__HTTP__ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        // Every process of a test counts against the same windows: with the same limits.
        (
            "USERHUB__RATE_LIMIT__PER_MINUTE".to_owned(),
            settings.rate_limit.per_minute.to_string(),
        ),
        (
            "USERHUB__RATE_LIMIT__MAX_LEASE".to_owned(),
            settings.rate_limit.max_lease.to_string(),
        ),
        (
            "USERHUB__HTTP__METRICS_TOKEN".to_owned(),
            METRICS_TOKEN.to_owned(),
        ),
        (
            "USERHUB__WEBHOOKS__SECRET_KEY".to_owned(),
            settings.webhooks.secret_key.clone().unwrap_or_default(),
        ),
        (
            "USERHUB__WORKER__SHUTDOWN_GRACE_MS".to_owned(),
            settings.worker.shutdown_grace_ms.to_string(),
        ),
        (
            "USERHUB__WORKER__EXPORT_CHUNK_RECORDS".to_owned(),
            settings.worker.export_chunk_records.to_string(),
        ),
        (
            "USERHUB__WORKER__MAX_ATTEMPTS".to_owned(),
            settings.worker.max_attempts.to_string(),
        ),
        (
            "USERHUB__BROKER__RETRY_DELAYS_MS".to_owned(),
            settings
                .broker
                .retry_delays_ms
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "USERHUB__WORKER__STALL_AFTER_MS".to_owned(),
            settings.worker.stall_after_ms.to_string(),
        ),
        (
            "USERHUB__WORKER__STALL_FAIL_AFTER_MS".to_owned(),
            settings.worker.stall_fail_after_ms.to_string(),
        ),
        (
            "USERHUB__WORKER__STALL_CHECK_INTERVAL_MS".to_owned(),
            settings.worker.stall_check_interval_ms.to_string(),
        ),
        (
            "USERHUB__GATEWAY__CHUNK_RECORDS".to_owned(),
            settings.gateway.chunk_records.to_string(),
        ),
        ("USERHUB__LOG__FILTER".to_owned(), "warn".to_owned()),
    ];
    if let Some(expires) = settings.broker.queue_expires_ms {
        env.push((
            "USERHUB__BROKER__QUEUE_EXPIRES_MS".to_owned(),
            expires.to_string(),
        ));
    }
    env
}
