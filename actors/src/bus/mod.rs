//! The event bus: committed events travel from the outbox relay to every node's hub.
//! Two implementations: in-process (one node, the embedded default) and NATS JetStream.

mod delivery;
mod memory;
mod nats;
pub mod subjects;

use std::sync::Arc;

use futures::stream::BoxStream;
use serde::Deserialize;

pub use delivery::Delivery;
pub use memory::MemoryBus;
pub use nats::NatsBus;
pub use subjects::Subjects;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the bus at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("publish failed: {0}")]
    Publish(String),
    #[error("subscribe failed: {0}")]
    Subscribe(String),
    #[error("bus unreachable: {0}")]
    Unreachable(String),
}

#[derive(Clone, Debug, Deserialize)]
pub struct BusSettings {
    /// Empty for the in-process bus, `nats://host:4222` for NATS.
    pub url: String,
    /// Subject prefix, so several deployments (or tests) share one NATS.
    pub prefix: String,
    /// In-process bus: events buffered per subscriber before a slow hub starts losing them.
    pub memory_capacity: usize,
}

/// Events published once, delivered to every subscribed node.
#[async_trait::async_trait]
pub trait Bus: Send + Sync {
    /// Publishes one committed event. Publishing the same event (outbox id and topic)
    /// twice delivers it once.
    async fn publish(&self, delivery: Arc<Delivery>) -> Result<(), BusError>;
    /// Every event published from now on, from any node.
    async fn subscribe(&self) -> Result<BoxStream<'static, Arc<Delivery>>, BusError>;
    async fn ping(&self) -> Result<(), BusError>;
    fn kind(&self) -> &'static str;
}

pub async fn connect(settings: &BusSettings) -> Result<Arc<dyn Bus>, BusError> {
    if settings.url.trim().is_empty() {
        Ok(Arc::new(MemoryBus::new(settings.memory_capacity)))
    } else {
        Ok(Arc::new(
            NatsBus::connect(&settings.url, Subjects::new(&settings.prefix)).await?,
        ))
    }
}
