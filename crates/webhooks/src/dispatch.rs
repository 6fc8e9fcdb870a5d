//! The dispatcher: leases due deliveries (`SKIP LOCKED`, so that the processes of an
//! installation share them), sends each with its signature to the addresses checked just
//! before, and records the outcome. A failure waits by the retry delays until the delivery's
//! 24-hour window ends; every attempt carries the same `webhook-id`. It runs beside the status
//! service, never on the import path. It is fair between domains: each domain has at most
//! `concurrency_per_domain` attempts under way in a process, every domain's first due delivery
//! is leased before any domain's second, and a finished attempt frees its place at once, so a
//! slow or hanging endpoint holds only its own domain's places. At start it seals the secrets
//! still stored in clear text.

use crate::sealing::Sealer;
use crate::settings::WebhookSettings;
use crate::signature::signature_header;
use crate::target::checked_target;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_domain::DomainId;
use userhub_store::webhooks::{
    Attempt, Claim, DueDelivery, StoredSecrets, claim_due, clear_secrets, record_attempt,
    seal_secrets,
};
use userhub_store::{Pool, StoreError};

/// Endpoints whose clear-text secrets are sealed per statement.
const SEAL_BATCH: i64 = 500;

/// What one finished attempt reports back to the loop.
struct Finished {
    domain_id: DomainId,
    id: i64,
    lease_until: chrono::DateTime<Utc>,
    outcome: Attempt,
}

/// Delivers until `shutdown` (nothing at all without a sealing key: webhooks are disabled).
pub async fn run_dispatcher(pool: Pool, settings: WebhookSettings, shutdown: CancellationToken) {
    let sealer = match settings.sealer() {
        Ok(Some(sealer)) => Arc::new(sealer),
        Ok(None) => {
            tracing::info!("webhooks are disabled: no webhooks.secret_key is set");
            return;
        }
        Err(error) => {
            tracing::error!(%error, "webhooks are disabled");
            return;
        }
    };
    match seal_clear_secrets(&pool, &sealer).await {
        Ok(0) => {}
        Ok(sealed) => tracing::info!(sealed, "webhook secrets stored in clear text were sealed"),
        Err(error) => tracing::warn!(%error, "clear-text webhook secrets could not be sealed yet"),
    }
    let idle = Duration::from_millis(settings.poll_interval_ms.max(10));
    let mut attempts: JoinSet<Finished> = JoinSet::new();
    let mut sending: HashMap<DomainId, usize> = HashMap::new();
    loop {
        let free = settings.concurrency.saturating_sub(attempts.len());
        let mut claimed = 0;
        if free > 0 {
            match claim(&pool, &settings, free, &sending).await {
                Ok(due) => {
                    claimed = due.len();
                    for delivery in due {
                        *sending.entry(delivery.domain_id).or_default() += 1;
                        let settings = settings.clone();
                        let sealer = Arc::clone(&sealer);
                        attempts.spawn(async move {
                            let outcome = attempt(&delivery, &settings, &sealer).await;
                            Finished {
                                domain_id: delivery.domain_id,
                                id: delivery.id,
                                lease_until: delivery.lease_until,
                                outcome,
                            }
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "webhook deliveries could not be read; trying again later");
                }
            }
        }
        let pause = if claimed > 0 && claimed == free {
            Duration::ZERO
        } else {
            idle
        };
        tokio::select! {
            Some(joined) = attempts.join_next() => {
                let Ok(finished) = joined else { continue };
                if let Some(count) = sending.get_mut(&finished.domain_id) {
                    *count -= 1;
                    if *count == 0 {
                        sending.remove(&finished.domain_id);
                    }
                }
                if let Err(error) = record(&pool, &finished).await {
                    tracing::warn!(%error, "a webhook attempt could not be recorded; it is sent again");
                }
            }
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => break,
        }
    }
    // Attempts still under way are dropped: their leases run out and they are sent again.
}

/// Leases up to `free` due deliveries, fairly between domains.
async fn claim(
    pool: &Pool,
    settings: &WebhookSettings,
    free: usize,
    sending: &HashMap<DomainId, usize>,
) -> Result<Vec<DueDelivery>, StoreError> {
    let sending: Vec<(DomainId, i32)> = sending
        .iter()
        .map(|(domain, count)| (*domain, i32::try_from(*count).unwrap_or(i32::MAX)))
        .collect();
    let claim = Claim {
        limit: i64::try_from(free).unwrap_or(i64::MAX),
        lease_seconds: (settings.timeout_ms as f64 / 1000.0) * 2.0 + 5.0,
        sending: &sending,
        per_domain: i32::try_from(settings.concurrency_per_domain).unwrap_or(i32::MAX),
    };
    let client = pool.get().await?;
    claim_due(&client, &claim).await
}

async fn record(pool: &Pool, finished: &Finished) -> Result<(), StoreError> {
    if let Attempt::Failed { error, .. } = &finished.outcome {
        tracing::info!(delivery = finished.id, %error, "webhook delivery failed");
    }
    let client = pool.get().await?;
    record_attempt(
        &client,
        finished.domain_id,
        finished.id,
        finished.lease_until,
        &finished.outcome,
    )
    .await
}

/// Seals every secret still stored in clear text; returns how many endpoints were sealed.
pub async fn seal_clear_secrets(pool: &Pool, sealer: &Sealer) -> Result<u64, StoreError> {
    let mut sealed = 0;
    loop {
        let mut client = pool.get().await?;
        let transaction = client.transaction().await?;
        let clear = clear_secrets(&transaction, SEAL_BATCH).await?;
        for read in &clear {
            let seal = |text: &str| {
                if Sealer::is_clear(text) {
                    sealer.seal(read.domain_id, text)
                } else {
                    text.to_owned()
                }
            };
            let replacement = StoredSecrets {
                secret: seal(&read.secret),
                previous_secret: read.previous_secret.as_deref().map(seal),
                ..read.clone()
            };
            if seal_secrets(&transaction, read, &replacement).await? {
                sealed += 1;
            }
        }
        transaction.commit().await?;
        if clear.len() < SEAL_BATCH as usize {
            return Ok(sealed);
        }
    }
}

/// One attempt at `delivery`.
async fn attempt(delivery: &DueDelivery, settings: &WebhookSettings, sealer: &Sealer) -> Attempt {
    let attempts = usize::try_from(delivery.attempts).unwrap_or(0) + 1;
    let failed = |status: Option<i32>, error: String| {
        let retry_at = (!delivery.past_deadline)
            .then(|| Utc::now() + Duration::from_millis(settings.retry_delay_ms(attempts)));
        Attempt::Failed {
            status,
            error,
            retry_at,
        }
    };
    if delivery.past_deadline {
        return failed(None, "not delivered within its 24-hour window".to_owned());
    }
    let secrets = std::iter::once(&delivery.secret)
        .chain(&delivery.previous_secret)
        .map(|stored| sealer.open(delivery.domain_id, stored))
        .collect::<Result<Vec<String>, _>>();
    let secrets = match secrets {
        Ok(secrets) => secrets,
        Err(error) => return failed(None, error.to_string()),
    };
    let target = match checked_target(&delivery.url, settings.allow_private_targets).await {
        Ok(target) => target,
        Err(error) => return failed(None, error.to_string()),
    };
    // No proxy from the environment: a proxy would resolve the host itself, past the check.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(settings.timeout_ms))
        .resolve_to_addrs(&target.host, &target.addresses)
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => return failed(None, error.to_string()),
    };
    let timestamp = Utc::now().timestamp();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature =
        match signature_header(&secrets, &delivery.message_id, timestamp, &delivery.payload) {
            Ok(signature) => signature,
            Err(error) => return failed(None, format!("cannot sign: {error}")),
        };
    let sent = client
        .post(target.url)
        .header("content-type", "application/json")
        .header("user-agent", "userhub-webhooks")
        .header("webhook-id", &delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Attempt::Delivered {
            status: i32::from(response.status().as_u16()),
        },
        Ok(response) => failed(
            Some(i32::from(response.status().as_u16())),
            format!("the endpoint answered {}", response.status()),
        ),
        Err(error) => failed(None, error.to_string()),
    }
}
