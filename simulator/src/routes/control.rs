//! `GET /control`: WebSocket commands, one JSON ack text frame per message,
//! in order (`docs/protocol.md`; seed chapter "Two-way control with
//! WebSockets").
//!
//! Text frames go to the core's command handling. Binary frames are
//! answered like text that is not JSON. A message over 16 KiB closes the
//! connection with code 1009, a text frame that is not UTF-8 with 1007. Pings are answered by axum; a close from the
//! client is answered before the task ends.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use cam_core::Ack;
use cam_core::command::ParseError;
use cam_core::protocol::{CLOSE_BAD_DATA, CLOSE_TOO_BIG, MAX_WS_MESSAGE};

use crate::shared::Shared;

/// Messages above this size are refused by the WebSocket layer itself
/// before they are buffered whole; between [`MAX_WS_MESSAGE`] and this they
/// are read and answered with close 1009.
const READ_LIMIT: usize = 4 * MAX_WS_MESSAGE;

pub(super) async fn control(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(READ_LIMIT)
        .max_frame_size(READ_LIMIT)
        .on_upgrade(move |socket| session(socket, shared))
}

async fn session(mut socket: WebSocket, shared: Arc<Shared>) {
    while let Some(msg) = socket.recv().await {
        let ack = match msg {
            Ok(Message::Text(text)) if text.len() > MAX_WS_MESSAGE => {
                return close_with(socket, CLOSE_TOO_BIG, "message too big").await;
            }
            Ok(Message::Binary(b)) if b.len() > MAX_WS_MESSAGE => {
                return close_with(socket, CLOSE_TOO_BIG, "message too big").await;
            }
            Ok(Message::Text(text)) => {
                let shared = shared.clone();
                match tokio::task::spawn_blocking(move || shared.handle_text(text.as_str())).await {
                    Ok(ack) => ack,
                    Err(_) => Ack::refused("internal error"),
                }
            }
            Ok(Message::Binary(_)) => Ack::for_parse_error(ParseError::BadJson),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => continue, // axum replies; recv() then ends
            Err(e) => {
                tracing::info!(error = %e, "control connection failed");
                let inner = e.into_inner();
                return match inner.downcast_ref::<tungstenite::Error>() {
                    // Over READ_LIMIT: the socket can still write a close.
                    Some(tungstenite::Error::Capacity(_)) => {
                        close_with(socket, CLOSE_TOO_BIG, "message too big").await
                    }
                    Some(tungstenite::Error::Utf8(_)) => {
                        close_with(socket, CLOSE_BAD_DATA, "invalid UTF-8").await
                    }
                    _ => {}
                };
            }
        };
        if socket
            .send(Message::Text(ack.to_json().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        // Wait for the client's close reply so the handshake completes.
        while let Some(Ok(_)) = socket.recv().await {}
    }
}
