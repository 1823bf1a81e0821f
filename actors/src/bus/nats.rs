//! NATS JetStream bus: events are stored in a stream (de-duplicated by `Nats-Msg-Id`)
//! and every node reads new ones through its own ordered consumer.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures::stream::{BoxStream, StreamExt};

use super::{Bus, BusError, Delivery, Subjects};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct NatsBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subjects: Subjects,
}

impl NatsBus {
    pub async fn connect(url: &str, subjects: Subjects) -> Result<Self, BusError> {
        let connect_err = |e: &dyn std::fmt::Display| BusError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let client = async_nats::ConnectOptions::new()
            .name("medrt")
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| connect_err(&e))?;
        let jetstream = jetstream::new(client.clone());
        jetstream
            .get_or_create_stream(stream::Config {
                name: subjects.events_stream(),
                subjects: vec![subjects.all_events()],
                duplicate_window: Duration::from_secs(120),
                max_age: Duration::from_secs(24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(|e| connect_err(&e))?;
        Ok(Self {
            client,
            jetstream,
            subjects,
        })
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    async fn publish(&self, delivery: Arc<Delivery>) -> Result<(), BusError> {
        let (aggregate, id) = delivery.event.aggregate();
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            self.subjects
                .message_id(delivery.id.get(), &delivery.topic)
                .as_str(),
        );
        let ack = self
            .jetstream
            .publish_with_headers(
                self.subjects.event(aggregate, &id),
                headers,
                delivery.to_bus_bytes().into(),
            )
            .await
            .map_err(|e| BusError::Publish(e.to_string()))?;
        // The event counts as published only once the stream has stored it.
        tokio::time::timeout(PUBLISH_TIMEOUT, ack)
            .await
            .map_err(|_| BusError::Publish("no acknowledgement from JetStream".into()))?
            .map_err(|e| BusError::Publish(e.to_string()))?;
        metrics::counter!("medrt_bus_published_total", "bus" => "nats").increment(1);
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Arc<Delivery>>, BusError> {
        let sub_err = |e: &dyn std::fmt::Display| BusError::Subscribe(e.to_string());
        let stream = self
            .jetstream
            .get_stream(self.subjects.events_stream())
            .await
            .map_err(|e| sub_err(&e))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::New,
                filter_subject: self.subjects.all_events(),
                ..Default::default()
            })
            .await
            .map_err(|e| sub_err(&e))?;
        let messages = consumer.messages().await.map_err(|e| sub_err(&e))?;
        Ok(messages
            .filter_map(|msg| async move {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "NATS consumer error; the ordered consumer recovers");
                        return None;
                    }
                };
                match Delivery::from_bus_bytes(&msg.payload) {
                    Ok(d) => Some(Arc::new(d)),
                    Err(e) => {
                        tracing::error!(error = %e, subject = %msg.subject, "undecodable event on the bus");
                        metrics::counter!("medrt_bus_undecodable_total").increment(1);
                        None
                    }
                }
            })
            .boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        tokio::time::timeout(Duration::from_secs(2), self.client.flush())
            .await
            .map_err(|_| BusError::Unreachable("flush timed out".into()))?
            .map_err(|e| BusError::Unreachable(e.to_string()))
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}
