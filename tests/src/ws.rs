//! A WebSocket client speaking medrt's JSON frames.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::DEADLINE;

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<CloseFrame>),
    Dropped,
}

impl WsClient {
    /// Connects to `url` (e.g. `ws://host/ws`) with `?token=`.
    pub async fn connect(url: &str, token: &str) -> Self {
        Self::try_connect(&format!("{url}?token={token}"))
            .await
            .expect("websocket connects")
    }

    pub async fn try_connect(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let request = url.into_client_request()?;
        Self::connect_request(request).await
    }

    pub async fn connect_request(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { stream })
    }

    pub fn from_stream(stream: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self { stream }
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::binary(bytes))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame, skipping control frames; fails after the deadline.
    pub async fn recv(&mut self) -> Value {
        self.try_recv(DEADLINE)
            .await
            .expect("a frame before the deadline")
    }

    /// The next JSON frame within `limit`, or `None` when none came or the connection ended.
    pub async fn try_recv(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match next.ok()? {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Frames until one of type `kind` arrives; returns it.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Subscribes and returns the `subscribed` (or `error`) reply.
    pub async fn subscribe(&mut self, topic: &str, last_event_id: Option<i64>) -> Value {
        let mut frame = serde_json::json!({"type": "subscribe", "topic": topic});
        if let Some(id) = last_event_id {
            frame["last_event_id"] = id.into();
        }
        self.send_json(frame).await;
        loop {
            let reply = self.recv().await;
            if reply["type"] == "subscribed" || reply["type"] == "error" {
                return reply;
            }
        }
    }

    /// Round-trips a ping: proves the connection and its session are alive.
    pub async fn ping(&mut self) {
        self.send_json(serde_json::json!({"type": "ping"})).await;
        self.recv_type("pong").await;
    }

    /// Reads until the server ends the connection; fails if it stays open past `limit`.
    pub async fn ended_within(&mut self, limit: Duration) -> Ended {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("the connection was still open after {limit:?}"),
                Ok(None) | Ok(Some(Err(_))) => return Ended::Dropped,
                Ok(Some(Ok(Message::Close(frame)))) => return Ended::Closed(frame),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}
