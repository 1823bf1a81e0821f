use std::sync::OnceLock;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use medrt_domain::event::Event;
use medrt_domain::ids::EventId;
use medrt_domain::topic::Topic;
use serde::{Deserialize, Serialize};

/// A committed event on its way to subscribers.
#[derive(Debug)]
pub struct Delivery {
    pub id: EventId,
    pub topic: Topic,
    pub event: Event,
    /// When the change that produced it was committed.
    pub at: DateTime<Utc>,
    /// The client frame, encoded once and shared by every session that receives it.
    frame: OnceLock<Bytes>,
}

/// What goes over the wire between nodes.
#[derive(Serialize, Deserialize)]
struct BusMessage<'a> {
    id: EventId,
    at: DateTime<Utc>,
    #[serde(borrow)]
    event: std::borrow::Cow<'a, serde_json::value::RawValue>,
}

impl Delivery {
    pub fn new(id: EventId, event: Event, at: DateTime<Utc>) -> Self {
        Self {
            id,
            topic: event.topic(),
            event,
            at,
            frame: OnceLock::new(),
        }
    }

    /// The client-facing frame, built by `encode` the first time it is needed; cloning
    /// it shares the bytes.
    pub fn frame(&self, encode: impl FnOnce(&Delivery) -> String) -> Bytes {
        self.frame.get_or_init(|| Bytes::from(encode(self))).clone()
    }

    pub(crate) fn to_bus_bytes(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Out<'a> {
            id: EventId,
            at: DateTime<Utc>,
            event: &'a Event,
        }
        serde_json::to_vec(&Out {
            id: self.id,
            at: self.at,
            event: &self.event,
        })
        .expect("events always serialise")
    }

    pub(crate) fn from_bus_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let msg: BusMessage<'_> = serde_json::from_slice(bytes)?;
        let event: Event = serde_json::from_str(msg.event.get())?;
        Ok(Self::new(msg.id, event, msg.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medrt_domain::ids::UserId;

    #[test]
    fn bus_encoding_round_trips() {
        let user = UserId::generate();
        let d = Delivery::new(
            EventId::new(7),
            Event::UserUpdated {
                user_id: user,
                email: Some("a@b.cn".into()),
                phone: None,
            },
            Utc::now(),
        );
        let back = Delivery::from_bus_bytes(&d.to_bus_bytes()).unwrap();
        assert_eq!(back.id, d.id);
        assert_eq!(back.event, d.event);
        assert_eq!(back.topic, Topic::User(user));
        assert_eq!(back.at, d.at);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Delivery::from_bus_bytes(b"{\"id\":1}").is_err());
        assert!(Delivery::from_bus_bytes(b"\xff").is_err());
    }

    #[test]
    fn the_frame_is_encoded_once() {
        let d = Delivery::new(
            EventId::new(1),
            Event::UserUpdated {
                user_id: UserId::generate(),
                email: None,
                phone: None,
            },
            Utc::now(),
        );
        let mut calls = 0;
        d.frame(|_| {
            calls += 1;
            "x".into()
        });
        assert_eq!(d.frame(|_| unreachable!()), "x".as_bytes());
        assert_eq!(calls, 1);
    }
}
