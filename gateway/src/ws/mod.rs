//! `GET /ws`: authenticate, upgrade, and hand the socket to a connection task.

mod connection;
mod protocol;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use medrt_domain::ids::EventId;
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct WsQuery {
    /// The JWT, when it is not sent as `Sec-WebSocket-Protocol: bearer, <jwt>`.
    token: Option<String>,
    /// Last event id the client saw; subscriptions replay what came after it.
    last_event_id: Option<i64>,
}

/// Opens the real-time channel.
#[utoipa::path(
    get, path = "/ws", tag = "realtime", params(WsQuery),
    responses(
        (status = 101, description = "switched to the WebSocket protocol"),
        (status = 401, description = "missing or invalid token", body = crate::error::ErrorBody),
    )
)]
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let from_protocol = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let mut parts = v.split(',').map(str::trim);
            (parts.next() == Some("bearer"))
                .then(|| parts.next())
                .flatten()
                .map(str::to_owned)
        });
    let token = query
        .token
        .or(from_protocol.clone())
        .ok_or(ApiError::Unauthorized(
            "pass the token as ?token= or Sec-WebSocket-Protocol: bearer, <jwt>",
        ))?;
    let AuthUser(principal) = AuthUser::from_token(&state, &token)?;
    let limits = &state.settings.ws;
    let mut ws = ws
        .max_message_size(limits.frame_max_bytes)
        .max_frame_size(limits.frame_max_bytes)
        // Small buffers keep an idle connection cheap; they grow for large frames.
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.frame_max_bytes * 4);
    if from_protocol.is_some() {
        ws = ws.protocols(["bearer"]);
    }
    let last_event_id = query.last_event_id.map(EventId::new);
    Ok(ws.on_upgrade(move |socket| connection::run(socket, principal, state, last_event_id)))
}
