//! A [`ChunkTransport`] inside the process, for tests of the protocol without a broker: one
//! queue per task type, retries delivered again after their tier's delay, dead letters and
//! profile events kept for the test to read. Like a broker, a chunk taken and dropped without
//! being settled goes back to its queue. A test can take the transport down or make it refuse
//! what is published, as a broker that is away or full would.

use super::{
    ChunkConsumer, ChunkTransport, Delivery, MessageHeaders, Outgoing, Route, TransportError,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use userhub_domain::TaskAction;

/// A message as a queue holds it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub message_id: String,
    pub body: Vec<u8>,
    pub headers: MessageHeaders,
    pub priority: u8,
}

/// What the transport holds.
#[derive(Debug, Default)]
struct State {
    queues: Mutex<HashMap<TaskAction, VecDeque<Stored>>>,
    /// Retries waiting for their delay, per task type.
    delayed: Mutex<HashMap<TaskAction, usize>>,
    dead: Mutex<Vec<(TaskAction, Stored)>>,
    events: Mutex<Vec<Outgoing>>,
    arrived: Notify,
    down: AtomicBool,
    refusal: Mutex<Option<String>>,
    published: AtomicUsize,
    /// Publishes pass through it; a test holds it to keep a publish in flight.
    gate: Arc<tokio::sync::RwLock<()>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn push(&self, action: TaskAction, stored: Stored, front: bool) {
        let mut queues = lock(&self.queues);
        let queue = queues.entry(action).or_default();
        if front {
            queue.push_front(stored);
        } else {
            queue.push_back(stored);
        }
        drop(queues);
        self.arrived.notify_waiters();
    }

    fn pop(&self, action: TaskAction) -> Option<Stored> {
        lock(&self.queues).get_mut(&action)?.pop_front()
    }
}

/// The in-process transport; clones share the same queues.
#[derive(Debug, Clone)]
pub struct InMemoryTransport {
    state: Arc<State>,
    retry_delays: Arc<Vec<Duration>>,
    prefetch: usize,
}

impl InMemoryTransport {
    /// A transport whose retries wait `retry_delays` (by tier; the last repeats) and whose
    /// consumers apply `prefetch` chunks at once.
    pub fn new(retry_delays: Vec<Duration>, prefetch: usize) -> InMemoryTransport {
        InMemoryTransport {
            state: Arc::default(),
            retry_delays: Arc::new(retry_delays),
            prefetch: prefetch.max(1),
        }
    }

    /// Takes the transport down (`false`) or brings it back (`true`).
    pub fn set_up(&self, up: bool) {
        self.state.down.store(!up, Ordering::SeqCst);
    }

    /// Refuses every publish with `reason` until called with `None`.
    pub fn refuse_publishes(&self, reason: Option<&str>) {
        *lock(&self.state.refusal) = reason.map(str::to_owned);
    }

    /// Holds every publish until the returned guard is dropped (a test keeps an accept in
    /// flight this way).
    pub async fn hold_publishes(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        Arc::clone(&self.state.gate).write_owned().await
    }

    /// Chunks waiting in `action`'s queue (not those taken or delayed).
    pub fn queued(&self, action: TaskAction) -> usize {
        lock(&self.state.queues)
            .get(&action)
            .map_or(0, VecDeque::len)
    }

    /// Takes every chunk waiting in `action`'s queue (they are gone).
    pub fn take_queued(&self, action: TaskAction) -> Vec<Stored> {
        lock(&self.state.queues)
            .get_mut(&action)
            .map(|queue| queue.drain(..).collect())
            .unwrap_or_default()
    }

    /// Puts `messages` at the end of `action`'s queue, in the order given (a test reorders or
    /// repeats deliveries this way, as a broker may).
    pub fn put_back(&self, action: TaskAction, messages: impl IntoIterator<Item = Stored>) {
        for message in messages {
            self.state.push(action, message, false);
        }
    }

    /// The dead letters of `action`'s task type so far.
    pub fn dead_letters(&self, action: TaskAction) -> Vec<Stored> {
        lock(&self.state.dead)
            .iter()
            .filter(|(of, _)| *of == action)
            .map(|(_, stored)| stored.clone())
            .collect()
    }

    /// The profile events published so far, in order.
    pub fn events(&self) -> Vec<Outgoing> {
        lock(&self.state.events).clone()
    }

    /// How many messages were published in all.
    pub fn published(&self) -> usize {
        self.state.published.load(Ordering::SeqCst)
    }

    fn delay(&self, tier: usize) -> Duration {
        let last = self.retry_delays.len().saturating_sub(1);
        self.retry_delays
            .get(tier.min(last))
            .copied()
            .unwrap_or_default()
    }

    fn deliver(&self, message: &Outgoing) {
        let stored = Stored {
            message_id: message.message_id.clone(),
            body: message.body.clone(),
            headers: message.headers.clone(),
            priority: message.priority,
        };
        match &message.route {
            Route::Work { action, .. } => self.state.push(*action, stored, false),
            Route::Retry { action, tier } => {
                let (state, action, delay) = (Arc::clone(&self.state), *action, self.delay(*tier));
                *lock(&state.delayed).entry(action).or_default() += 1;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    *lock(&state.delayed).entry(action).or_default() -= 1;
                    state.push(action, stored, false);
                });
            }
            Route::Dead { action } => lock(&self.state.dead).push((*action, stored)),
            Route::ProfileEvent { .. } => lock(&self.state.events).push(message.clone()),
        }
    }
}

impl ChunkTransport for InMemoryTransport {
    fn is_up(&self) -> bool {
        !self.state.down.load(Ordering::SeqCst)
    }

    fn up(&self) -> BoxFuture<'_, ()> {
        async move {
            while !self.is_up() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        .boxed()
    }

    fn publish<'a>(
        &'a self,
        messages: &'a [Outgoing],
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        async move {
            let _pass = self.state.gate.read().await;
            if !self.is_up() {
                return Err(TransportError::Unavailable);
            }
            if let Some(reason) = lock(&self.state.refusal).clone() {
                return Err(TransportError::Refused(reason));
            }
            for message in messages {
                self.deliver(message);
            }
            self.state
                .published
                .fetch_add(messages.len(), Ordering::SeqCst);
            Ok(())
        }
        .boxed()
    }

    fn consume<'a>(
        &'a self,
        action: TaskAction,
        _tag: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn ChunkConsumer>, TransportError>> {
        async move {
            if !self.is_up() {
                return Err(TransportError::Unavailable);
            }
            let consumer = MemoryConsumer {
                state: Arc::clone(&self.state),
                action,
                canceled: false,
            };
            Ok(Box::new(consumer) as Box<dyn ChunkConsumer>)
        }
        .boxed()
    }

    fn prefetch(&self) -> usize {
        self.prefetch
    }

    fn ready_messages(&self, action: TaskAction) -> BoxFuture<'_, Result<u32, TransportError>> {
        async move {
            let delayed = lock(&self.state.delayed).get(&action).copied().unwrap_or(0);
            Ok(u32::try_from(self.queued(action) + delayed).unwrap_or(u32::MAX))
        }
        .boxed()
    }
}

/// A consumer of one task type's queue.
struct MemoryConsumer {
    state: Arc<State>,
    action: TaskAction,
    canceled: bool,
}

impl ChunkConsumer for MemoryConsumer {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<Box<dyn Delivery>, TransportError>>> {
        async move {
            loop {
                if self.canceled || self.state.down.load(Ordering::SeqCst) {
                    return None;
                }
                let arrived = self.state.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some(stored) = self.state.pop(self.action) {
                    let delivery = MemoryDelivery {
                        state: Arc::clone(&self.state),
                        action: self.action,
                        stored,
                        settled: AtomicBool::new(false),
                    };
                    return Some(Ok(Box::new(delivery) as Box<dyn Delivery>));
                }
                // Wake now and then to notice the transport going down.
                let _ = tokio::time::timeout(Duration::from_millis(100), arrived).await;
            }
        }
        .boxed()
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        self.canceled = true;
        async {}.boxed()
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        async {}.boxed()
    }
}

/// A chunk taken from a queue; it goes back unless settled.
struct MemoryDelivery {
    state: Arc<State>,
    action: TaskAction,
    stored: Stored,
    settled: AtomicBool,
}

impl Delivery for MemoryDelivery {
    fn body(&self) -> &[u8] {
        &self.stored.body
    }

    fn message_id(&self) -> String {
        self.stored.message_id.clone()
    }

    fn headers(&self) -> MessageHeaders {
        self.stored.headers.clone()
    }

    fn priority(&self) -> u8 {
        self.stored.priority
    }

    fn ack(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        self.settled.store(true, Ordering::SeqCst);
        async { Ok(()) }.boxed()
    }

    fn requeue(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        if !self.settled.swap(true, Ordering::SeqCst) {
            self.state.push(self.action, self.stored.clone(), true);
        }
        async { Ok(()) }.boxed()
    }
}

impl Drop for MemoryDelivery {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::SeqCst) {
            self.state.push(self.action, self.stored.clone(), true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userhub_domain::DomainId;

    fn work(body: &str) -> Outgoing {
        Outgoing {
            route: Route::Work {
                action: TaskAction::CreateCoreProfiles,
                domain_id: DomainId::new(1),
            },
            message_id: body.to_owned(),
            body: body.as_bytes().to_vec(),
            headers: MessageHeaders::default(),
            priority: 8,
        }
    }

    #[tokio::test]
    async fn chunks_arrive_in_order_and_come_back_unless_settled() {
        let transport = InMemoryTransport::new(vec![Duration::from_millis(1)], 2);
        transport.publish(&[work("a"), work("b")]).await.unwrap();
        let action = TaskAction::CreateCoreProfiles;
        let mut consumer = transport.consume(action, "t").await.unwrap();
        let first = consumer.next().await.unwrap().unwrap();
        assert_eq!(first.body(), b"a");
        drop(first);
        let again = consumer.next().await.unwrap().unwrap();
        assert_eq!(again.body(), b"a", "an unsettled chunk comes back first");
        again.ack().await.unwrap();
        let second = consumer.next().await.unwrap().unwrap();
        second.ack().await.unwrap();
        assert_eq!(second.body(), b"b");
        assert_eq!(transport.queued(action), 0);
    }

    #[tokio::test]
    async fn retries_come_back_after_their_delay_and_dead_letters_stay() {
        let transport = InMemoryTransport::new(vec![Duration::from_millis(20)], 1);
        let action = TaskAction::UpdateCoreProfiles;
        let retry = Outgoing {
            route: Route::Retry { action, tier: 3 },
            ..work("r")
        };
        let dead = Outgoing {
            route: Route::Dead { action },
            ..work("d")
        };
        transport.publish(&[retry, dead]).await.unwrap();
        assert_eq!(transport.ready_messages(action).await.unwrap(), 1);
        let mut consumer = transport.consume(action, "t").await.unwrap();
        let back = consumer.next().await.unwrap().unwrap();
        assert_eq!(back.body(), b"r");
        back.ack().await.unwrap();
        assert_eq!(transport.dead_letters(action)[0].body, b"d");
    }

    #[tokio::test]
    async fn a_transport_that_is_down_or_full_refuses_to_publish() {
        let transport = InMemoryTransport::new(vec![], 1);
        transport.set_up(false);
        assert!(matches!(
            transport.publish(&[work("x")]).await,
            Err(TransportError::Unavailable)
        ));
        transport.set_up(true);
        transport.refuse_publishes(Some("full"));
        assert!(matches!(
            transport.publish(&[work("x")]).await,
            Err(TransportError::Refused(_))
        ));
        transport.refuse_publishes(None);
        transport.publish(&[work("x")]).await.unwrap();
        assert_eq!(transport.published(), 1);
    }
}
