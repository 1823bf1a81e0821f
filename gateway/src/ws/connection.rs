//! One task per WebSocket connection: reads client frames into the session, writes the
//! session's frames out, pings the client and drops it when it goes silent or cannot
//! keep up.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use medrt_actors::session::SessionMsg;
use medrt_actors::session_supervisor::OpenError;
use medrt_domain::ids::EventId;
use medrt_domain::rbac::Principal;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

use super::protocol::{self, ClientFrame};
use crate::state::AppState;

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TRY_AGAIN: u16 = 1013;
const CLOSE_INTERNAL: u16 = 1011;

/// How long to wait for the client's reply to our close frame.
const CLOSE_HANDSHAKE_MAX: Duration = Duration::from_secs(2);

pub async fn run(
    mut socket: WebSocket,
    principal: Principal,
    state: AppState,
    last_event_id: Option<EventId>,
) {
    let limits = state.settings.ws.clone();
    let (outbound_tx, mut outbound) = mpsc::channel(limits.send_queue_max);
    // Boxed so the opening handshake's futures do not stay in every connection's task.
    let session = match Box::pin(state.platform.open_session(principal, outbound_tx)).await {
        Ok(session) => session,
        Err(e) => {
            let code = match e {
                OpenError::TooManySessions(_) => CLOSE_POLICY,
                OpenError::Unavailable => CLOSE_TRY_AGAIN,
            };
            let _ = socket
                .send(Message::text(protocol::error_frame(
                    "SESSION_REFUSED",
                    &e.to_string(),
                )))
                .await;
            let _ = socket.send(close(code, &e.to_string())).await;
            return;
        }
    };
    let write_timeout = Duration::from_millis(limits.write_timeout_ms);
    let silence_max = Duration::from_millis(limits.heartbeat_timeout_ms);
    let mut heartbeat = interval(Duration::from_millis(limits.heartbeat_interval_ms));
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let (mut sink, mut stream) = socket.split();

    let ending: Option<(u16, &str)> = loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break None };
                last_heard = Instant::now();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Binary(_) => {
                        let reply = protocol::error_frame("BAD_FRAME", "binary frames are not supported; send JSON text");
                        if send(&mut sink, Message::text(reply), write_timeout).await.is_err() { break None }
                        continue;
                    }
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let to_session = match ClientFrame::parse(&text, state.settings.testing.fault_injection) {
                    Ok(ClientFrame::Subscribe { topic, last_event_id: own }) => {
                        SessionMsg::Subscribe { topic, last_event_id: own.or(last_event_id) }
                    }
                    Ok(ClientFrame::Unsubscribe { topic }) => SessionMsg::Unsubscribe { topic },
                    Ok(ClientFrame::Ping) => SessionMsg::Ping,
                    Ok(ClientFrame::FaultPanic) => SessionMsg::InjectFault,
                    Err(bad) => {
                        let reply = protocol::error_frame(bad.code, &bad.message);
                        if send(&mut sink, Message::text(reply), write_timeout).await.is_err() { break None }
                        continue;
                    }
                };
                if session.cast(to_session).is_err() {
                    break Some((CLOSE_INTERNAL, "session ended"));
                }
            }
            frame = outbound.recv() => {
                // The queue closes when the session ends: a crash or a slow consumer.
                let Some(frame) = frame else { break Some((CLOSE_INTERNAL, "session ended")) };
                let Some(text) = protocol::encode(&frame) else {
                    break Some((CLOSE_GOING_AWAY, "server shutting down"));
                };
                if send(&mut sink, Message::text(text), write_timeout).await.is_err() {
                    metrics::counter!("medrt_ws_write_timeouts_total").increment(1);
                    break None;
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > silence_max {
                    metrics::counter!("medrt_ws_heartbeat_timeouts_total").increment(1);
                    break Some((CLOSE_POLICY, "heartbeat timeout"));
                }
                if send(&mut sink, Message::Ping(Default::default()), write_timeout).await.is_err() { break None }
            }
        }
    };
    session.stop(None);
    if let Some((code, reason)) = ending
        && send(&mut sink, close(code, reason), write_timeout)
            .await
            .is_ok()
    {
        // Complete the closing handshake: dropping the socket at once would reset
        // the connection under frames the client is still answering, and it would
        // never read the close frame.
        let _ = timeout(CLOSE_HANDSHAKE_MAX, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// Writes one frame, giving up when the client has not taken it within `limit`.
async fn send<S>(sink: &mut S, message: Message, limit: Duration) -> Result<(), ()>
where
    S: SinkExt<Message> + Unpin,
{
    match timeout(limit, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
