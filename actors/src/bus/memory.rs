//! The in-process bus: one node, no network. A hub that falls too far behind loses
//! events (counted), and its clients recover them by replay.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::broadcast;

use super::{Bus, BusError, Delivery};

pub struct MemoryBus {
    sender: broadcast::Sender<Arc<Delivery>>,
}

impl MemoryBus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Self { sender }
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, delivery: Arc<Delivery>) -> Result<(), BusError> {
        // No subscriber yet is not an error: clients catch up by replay.
        let _ = self.sender.send(delivery);
        metrics::counter!("medrt_bus_published_total", "bus" => "memory").increment(1);
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Arc<Delivery>>, BusError> {
        let receiver = self.sender.subscribe();
        Ok(stream::unfold(receiver, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(d) => return Some((d, rx)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(lost = n, "hub fell behind the in-process bus");
                        metrics::counter!("medrt_bus_lagged_total").increment(n);
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
