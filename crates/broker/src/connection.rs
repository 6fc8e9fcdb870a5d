//! The supervised connection: a background task connects with backoff, declares the topology,
//! watches for errors and reconnects. Users get the current connection or `Unavailable`.

use crate::consumer::ChunkConsumer;
use crate::error::BrokerError;
use crate::settings::BrokerSettings;
use crate::topology::Topology;
use crate::transport::PublisherPool;
use futures_util::StreamExt;
use lapin::{Connection, ConnectionProperties, Event};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskAction;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one node may take to accept a connection before the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const STATUS_POLL: Duration = Duration::from_millis(500);

/// Ready messages of one task type's queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    pub work: u32,
    pub retry: u32,
    pub dead: u32,
}

/// A handle on the supervised broker connection; cheap to clone.
#[derive(Clone)]
pub struct Broker {
    settings: Arc<BrokerSettings>,
    topology: Topology,
    current: watch::Receiver<Option<Arc<Connection>>>,
    publishers: Arc<PublisherPool>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("prefix", &self.settings.prefix)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Broker {
    /// Starts the supervisor and returns at once; it runs until `stop` is cancelled.
    pub fn start(settings: BrokerSettings, stop: CancellationToken) -> Broker {
        let topology = Topology::new(&settings);
        let (sender, current) = watch::channel(None);
        let settings = Arc::new(settings);
        tokio::spawn(supervise(settings.clone(), topology.clone(), sender, stop));
        Broker {
            settings,
            topology,
            current,
            publishers: Arc::default(),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn settings(&self) -> &BrokerSettings {
        &self.settings
    }

    pub fn is_connected(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(|connection| connection.status().connected())
    }

    /// The live connection, or `Unavailable` while reconnecting.
    pub(crate) fn connection(&self) -> Result<Arc<Connection>, BrokerError> {
        self.current
            .borrow()
            .as_ref()
            .filter(|connection| connection.status().connected())
            .cloned()
            .ok_or(BrokerError::Unavailable)
    }

    /// Waits until a connection is up (callers race this against their own shutdown).
    pub(crate) async fn connected(&self) -> Arc<Connection> {
        let mut current = self.current.clone();
        loop {
            if let Ok(connection) = self.connection() {
                return connection;
            }
            if current.changed().await.is_err() {
                // The supervisor stopped: nothing will ever connect again.
                std::future::pending::<()>().await;
            }
        }
    }

    pub(crate) fn publishers(&self) -> &PublisherPool {
        &self.publishers
    }

    /// Messages ready in a task type's work and retry queues (not those being processed).
    pub async fn waiting_messages(&self, action: TaskAction) -> Result<u32, BrokerError> {
        let depths = self.queue_depths(action).await?;
        Ok(depths.work + depths.retry)
    }

    /// Messages ready in each of a task type's queues.
    pub async fn queue_depths(&self, action: TaskAction) -> Result<QueueDepths, BrokerError> {
        let connection = self.connection()?;
        let channel = connection.create_channel().await?;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let depth = |queue: String| {
            let channel = channel.clone();
            async move {
                let declared = channel
                    .queue_declare(queue.into(), passive, Default::default())
                    .await?;
                Ok::<u32, lapin::Error>(declared.message_count())
            }
        };
        let mut depths = QueueDepths::default();
        for queue in self.topology.work_queues(action) {
            depths.work += depth(queue.name).await?;
        }
        for tier in 0..self.topology.retry_tiers() {
            depths.retry += depth(self.topology.retry_queue(action, tier)).await?;
        }
        depths.dead = depth(self.topology.dead_queue(action)).await?;
        let _ = channel.close(200, "counted".into()).await;
        Ok(depths)
    }

    /// Chunks a worker of one task type applies at a time (its prefetch).
    pub fn max_in_flight(&self) -> usize {
        usize::from(self.settings.prefetch.max(1))
    }

    /// A consumer of a task type's work queues with the configured prefetch.
    pub(crate) async fn open_consumer(
        &self,
        action: TaskAction,
        tag: &str,
    ) -> Result<ChunkConsumer, BrokerError> {
        let connection = self.connection()?;
        ChunkConsumer::open(
            &connection,
            &self.topology.work_queues(action),
            tag,
            self.settings.prefetch,
        )
        .await
    }
}

async fn connect_and_declare(
    settings: &BrokerSettings,
    url: &str,
    topology: &Topology,
) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("userhub:{}:{}", settings.prefix, std::process::id()).into());
    let connection = Connection::connect(url, properties).await?;
    let channel = connection.create_channel().await?;
    topology.declare(&channel).await?;
    channel.close(200, "topology declared".into()).await?;
    Ok(connection)
}

async fn supervise(
    settings: Arc<BrokerSettings>,
    topology: Topology,
    sender: watch::Sender<Option<Arc<Connection>>>,
    stop: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    let nodes: Vec<String> = settings
        .node_urls()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut next_node = 0usize;
    while !stop.is_cancelled() {
        // Every (re)connection goes to the next node of the list.
        let node = nodes
            .get(next_node % nodes.len().max(1))
            .cloned()
            .unwrap_or_default();
        next_node = next_node.wrapping_add(1);
        let attempt = tokio::select! {
            attempt = tokio::time::timeout(CONNECT_TIMEOUT, connect_and_declare(&settings, &node, &topology)) => {
                attempt.unwrap_or_else(|_| Err(lapin::Error::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the node did not answer in time",
                ))))
            }
            () = stop.cancelled() => break,
        };
        match attempt {
            Ok(connection) => {
                backoff = FIRST_BACKOFF;
                let connection = Arc::new(connection);
                let mut events = connection.events_listener();
                sender.send_replace(Some(connection.clone()));
                tracing::info!(prefix = %settings.prefix, node = next_node.wrapping_sub(1) % nodes.len().max(1), "connected to the message broker");
                loop {
                    tokio::select! {
                        () = stop.cancelled() => {
                            sender.send_replace(None);
                            let _ = connection.close(200, "shutting down".into()).await;
                            return;
                        }
                        event = events.next() => match event {
                            Some(Event::Error(error)) => {
                                tracing::warn!(%error, "message broker connection failed; reconnecting");
                                break;
                            }
                            None => break,
                            Some(_) => {}
                        },
                        () = tokio::time::sleep(STATUS_POLL) => {
                            if !connection.status().connected() {
                                tracing::warn!("message broker connection lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
                sender.send_replace(None);
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot reach the message broker node; trying the next")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    sender.send_replace(None);
}
