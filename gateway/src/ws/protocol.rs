//! The WebSocket wire format: JSON text frames `{"type": ...}` both ways.

use axum::extract::ws::Utf8Bytes;
use medrt_actors::bus::Delivery;
use medrt_actors::session::{Outbound, Reply, SessionError};
use medrt_domain::ids::EventId;
use medrt_domain::topic::Topic;
use serde::Deserialize;
use serde_json::{Value, json};

/// A frame from the client, parsed.
#[derive(Debug, PartialEq)]
pub enum ClientFrame {
    Subscribe {
        topic: Topic,
        last_event_id: Option<EventId>,
    },
    Unsubscribe {
        topic: Topic,
    },
    Ping,
    /// Crash the session on purpose; only honoured with fault injection configured.
    FaultPanic,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum RawFrame {
    #[serde(rename = "subscribe")]
    Subscribe {
        topic: String,
        last_event_id: Option<i64>,
    },
    #[serde(rename = "unsubscribe")]
    Unsubscribe { topic: String },
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "fault.panic")]
    FaultPanic,
}

/// Why a client frame was refused; sent back as an `error` frame, the connection stays.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl ClientFrame {
    pub fn parse(text: &str, fault_injection: bool) -> Result<Self, FrameError> {
        let raw: RawFrame = serde_json::from_str(text).map_err(|e| FrameError {
            code: "BAD_FRAME",
            message: format!("expected a JSON object with a known \"type\": {e}"),
        })?;
        let topic = |t: String| {
            t.parse::<Topic>().map_err(|e| FrameError {
                code: "BAD_TOPIC",
                message: e.to_string(),
            })
        };
        Ok(match raw {
            RawFrame::Subscribe {
                topic: t,
                last_event_id,
            } => ClientFrame::Subscribe {
                topic: topic(t)?,
                last_event_id: last_event_id.map(EventId::new),
            },
            RawFrame::Unsubscribe { topic: t } => ClientFrame::Unsubscribe { topic: topic(t)? },
            RawFrame::Ping => ClientFrame::Ping,
            RawFrame::FaultPanic if fault_injection => ClientFrame::FaultPanic,
            RawFrame::FaultPanic => {
                return Err(FrameError {
                    code: "BAD_FRAME",
                    message: "unknown frame type `fault.panic`".into(),
                });
            }
        })
    }
}

pub fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

/// The text of an outbound frame; `None` for a close request. Event frames are encoded
/// once per event and shared between sessions.
pub fn encode(out: &Outbound) -> Option<Utf8Bytes> {
    let text = match out {
        Outbound::Event(delivery) => {
            let frame = delivery.frame(event_frame);
            return Some(Utf8Bytes::try_from(frame).expect("frames are encoded from strings"));
        }
        Outbound::Pong => r#"{"type":"pong"}"#.to_owned(),
        Outbound::Reply(reply) => match reply.as_ref() {
            Reply::Subscribed { topic, recovered } => {
                let mut frame = json!({"type": "subscribed", "topic": topic.to_string()});
                if let Some(recovered) = recovered {
                    frame["recovered"] = Value::Bool(*recovered);
                }
                frame.to_string()
            }
            Reply::Unsubscribed { topic } => {
                json!({"type": "unsubscribed", "topic": topic.to_string()}).to_string()
            }
            Reply::Error { code, message } => error_frame(session_error_code(*code), message),
        },
        Outbound::Close(_) => return None,
    };
    Some(text.into())
}

fn session_error_code(code: SessionError) -> &'static str {
    match code {
        SessionError::Forbidden => "FORBIDDEN",
        SessionError::NotFound => "NOT_FOUND",
        SessionError::TooManyTopics => "TOO_MANY_TOPICS",
        SessionError::Unavailable => "UNAVAILABLE",
    }
}

/// An event as clients see it: its own fields plus `event_id`, `topic` and `at`.
fn event_frame(delivery: &Delivery) -> String {
    let mut frame = serde_json::to_value(&delivery.event).expect("events always serialise");
    if let Value::Object(fields) = &mut frame {
        fields.insert("event_id".into(), json!(delivery.id));
        fields.insert("topic".into(), Value::String(delivery.topic.to_string()));
        fields.insert("at".into(), json!(delivery.at));
    }
    frame.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use medrt_domain::event::Event;
    use medrt_domain::ids::UserId;

    #[test]
    fn client_frames_parse() {
        let id = UserId::generate();
        let text = format!(r#"{{"type":"subscribe","topic":"user:{id}","last_event_id":5}}"#);
        assert_eq!(
            ClientFrame::parse(&text, false),
            Ok(ClientFrame::Subscribe {
                topic: Topic::User(id),
                last_event_id: Some(EventId::new(5))
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping"}"#, false),
            Ok(ClientFrame::Ping)
        );
    }

    #[test]
    fn bad_frames_are_named() {
        assert_eq!(
            ClientFrame::parse("nope", false).unwrap_err().code,
            "BAD_FRAME"
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"dance"}"#, false)
                .unwrap_err()
                .code,
            "BAD_FRAME"
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"subscribe","topic":"x:1"}"#, false)
                .unwrap_err()
                .code,
            "BAD_TOPIC"
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"fault.panic"}"#, false)
                .unwrap_err()
                .code,
            "BAD_FRAME"
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"fault.panic"}"#, true),
            Ok(ClientFrame::FaultPanic)
        );
    }

    #[test]
    fn event_frames_carry_type_id_topic_and_time() {
        let user = UserId::generate();
        let delivery = Delivery::new(
            EventId::new(42),
            Event::UserUpdated {
                user_id: user,
                email: None,
                phone: None,
            },
            chrono::Utc::now(),
        );
        let text = encode(&Outbound::Event(std::sync::Arc::new(delivery))).unwrap();
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(v["type"], "user.updated");
        assert_eq!(v["event_id"], 42);
        assert_eq!(v["topic"], format!("user:{user}"));
        assert!(v["at"].is_string());
    }
}
