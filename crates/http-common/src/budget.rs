//! What one process lends to its callers, divided so that no caller can take it all. Requests
//! that have authenticated hold a *domain slot*: one of the process's `max_in_flight` slots and
//! one of its domain's share of them. Requests that cannot authenticate before reading their
//! body (the compatible endpoints whose token travels in it) and the anonymous routes (the
//! dashboard's page, `/openapi.json`) hold an *anonymous slot* from a separate, smaller set, so
//! strangers never hold a slot an authenticated request needs. Past a limit the request is
//! answered at once (`503 SERVER_BUSY`, or `429 TOO_MANY_CONCURRENT_REQUESTS` for a domain at
//! its share); nobody else waits.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use userhub_domain::DomainId;
use userhub_store::DomainShares;

/// A request's hold on the process's slots; released when dropped.
#[derive(Debug)]
pub struct Slot {
    _permits: Vec<OwnedSemaphorePermit>,
}

/// The request slots of one process.
#[derive(Debug)]
pub struct Budgets {
    slots: Arc<Semaphore>,
    total: usize,
    domains: DomainShares,
    anonymous: Arc<Semaphore>,
    anonymous_total: usize,
}

impl Budgets {
    /// `total` slots for authenticated requests, at most `share_percent` of them per domain,
    /// and `anonymous` slots for requests that have not authenticated.
    pub fn new(total: usize, share_percent: u8, anonymous: usize) -> Budgets {
        let total = total.max(1);
        let share = (total * usize::from(share_percent.clamp(1, 100))).div_ceil(100);
        Budgets {
            slots: Arc::new(Semaphore::new(total)),
            total,
            domains: DomainShares::new(share),
            anonymous: Arc::new(Semaphore::new(anonymous.max(1))),
            anonymous_total: anonymous.max(1),
        }
    }

    /// A slot for a request of `domain`, or the refusal to answer at once.
    pub fn domain_slot(&self, domain: DomainId) -> Result<Slot, ApiError> {
        let Some(share) = self.domains.try_acquire(domain) else {
            let share = self.domains.share();
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_CONCURRENT_REQUESTS",
                format!(
                    "this domain already has {share} requests in progress on this server; \
                     retry when one has finished"
                ),
            )
            .with_details(serde_json::json!({ "max_concurrent_requests": share }))
            .with_header("retry-after", 1));
        };
        let Ok(process) = Arc::clone(&self.slots).try_acquire_owned() else {
            return Err(server_busy(self.total));
        };
        Ok(Slot {
            _permits: vec![share, process],
        })
    }

    /// A slot for a request that has not authenticated, or the refusal to answer at once.
    pub fn anonymous_slot(&self) -> Result<Slot, ApiError> {
        let permit = Arc::clone(&self.anonymous)
            .try_acquire_owned()
            .map_err(|_| server_busy(self.anonymous_total))?;
        Ok(Slot {
            _permits: vec![permit],
        })
    }
}

fn server_busy(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVER_BUSY",
        format!("the server is handling its limit of {limit} requests; retry shortly"),
    )
    .with_details(serde_json::json!({ "max_in_flight": limit }))
    .with_header("retry-after", 1)
}

/// Middleware for routes anyone may call: each request holds an anonymous slot.
pub async fn anonymous_budget(
    State(budgets): State<Arc<Budgets>>,
    request: Request,
    next: Next,
) -> Response {
    match budgets.anonymous_slot() {
        Ok(_slot) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_holds_at_most_its_share_and_others_keep_theirs() {
        let budgets = Budgets::new(8, 25, 2);
        let alpha = DomainId::new(1);
        let beta = DomainId::new(2);
        let held: Vec<Slot> = (0..2)
            .map(|_| budgets.domain_slot(alpha).unwrap())
            .collect();
        let refused = budgets.domain_slot(alpha).unwrap_err();
        assert_eq!(refused.code, "TOO_MANY_CONCURRENT_REQUESTS");
        assert!(budgets.domain_slot(beta).is_ok());
        drop(held);
        assert!(budgets.domain_slot(alpha).is_ok());
    }

    #[test]
    fn the_process_limit_holds_across_domains() {
        let budgets = Budgets::new(4, 50, 1);
        let held: Vec<Slot> = (1..=4)
            .map(|n| budgets.domain_slot(DomainId::new(n)).unwrap())
            .collect();
        let refused = budgets.domain_slot(DomainId::new(9)).unwrap_err();
        assert_eq!(refused.code, "SERVER_BUSY");
        drop(held);
    }

    #[test]
    fn anonymous_requests_never_take_an_authenticated_slot() {
        let budgets = Budgets::new(2, 100, 1);
        let stranger = budgets.anonymous_slot().unwrap();
        assert_eq!(budgets.anonymous_slot().unwrap_err().code, "SERVER_BUSY");
        let first = budgets.domain_slot(DomainId::new(1)).unwrap();
        let second = budgets.domain_slot(DomainId::new(1)).unwrap();
        drop((stranger, first, second));
    }
}
