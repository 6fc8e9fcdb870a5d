//! The dispatcher: leases due deliveries (`SKIP LOCKED`, so that the processes of an
//! installation share them), sends each with its signature to the addresses checked just
//! before, and records the outcome. A failure waits by the retry delays until the delivery's
//! 24-hour window ends; every attempt carries the same `webhook-id`. It runs beside the status
//! service, never on the import path, and a slow endpoint holds only its own attempt.

use crate::settings::WebhookSettings;
use crate::signature::signature_header;
use crate::target::checked_target;
use chrono::Utc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_store::webhooks::{Attempt, DueDelivery, claim_due, record_attempt};
use userhub_store::{Pool, StoreError};

/// Delivers until `shutdown`.
pub async fn run_dispatcher(pool: Pool, settings: WebhookSettings, shutdown: CancellationToken) {
    let idle = Duration::from_millis(settings.poll_interval_ms.max(10));
    loop {
        let pause = match deliver_due(&pool, &settings).await {
            Ok(0) => idle,
            Ok(_) => Duration::ZERO,
            Err(error) => {
                tracing::warn!(%error, "webhook deliveries could not be read; trying again later");
                idle
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => break,
        }
    }
}

/// Sends the deliveries due now (at most the concurrency setting at once); returns how many.
pub async fn deliver_due(pool: &Pool, settings: &WebhookSettings) -> Result<usize, StoreError> {
    let lease_seconds = (settings.timeout_ms as f64 / 1000.0) * 2.0 + 5.0;
    let due = {
        let client = pool.get().await?;
        claim_due(&client, settings.concurrency as i64, lease_seconds).await?
    };
    let count = due.len();
    let mut attempts = JoinSet::new();
    for delivery in due {
        let settings = settings.clone();
        attempts.spawn(async move {
            let outcome = attempt(&delivery, &settings).await;
            (
                delivery.domain_id,
                delivery.id,
                delivery.lease_until,
                outcome,
            )
        });
    }
    let client = pool.get().await?;
    while let Some(joined) = attempts.join_next().await {
        let Ok((domain_id, id, lease_until, outcome)) = joined else {
            continue;
        };
        if let Attempt::Failed { error, .. } = &outcome {
            tracing::info!(delivery = id, %error, "webhook delivery failed");
        }
        record_attempt(&client, domain_id, id, lease_until, &outcome).await?;
    }
    Ok(count)
}

/// One attempt at `delivery`.
async fn attempt(delivery: &DueDelivery, settings: &WebhookSettings) -> Attempt {
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
    let mut secrets = vec![delivery.secret.as_str()];
    secrets.extend(delivery.previous_secret.as_deref());
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
