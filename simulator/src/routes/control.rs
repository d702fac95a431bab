//! `GET /control`: WebSocket commands, one JSON ack text frame per message,
//! in order (`docs/protocol.md`; seed chapter "Two-way control with
//! WebSockets").
//!
//! Text frames go to the core's command handling. Binary frames are
//! answered like text that is not JSON. A message over 16 KiB closes the
//! connection with code 1009, a text frame that is not UTF-8 with 1007.
//! Pings are answered by axum; a close from the client is answered before
//! the task ends.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use cam_core::Ack;
use cam_core::command::{Command, ParseError};
use cam_core::protocol::{CLOSE_BAD_DATA, CLOSE_TOO_BIG, MAX_WS_MESSAGE};

use crate::config::{Fault, Faults};
use crate::shared::Shared;

/// Messages above this size are refused by the WebSocket layer itself
/// before they are buffered whole; between [`MAX_WS_MESSAGE`] and this they
/// are read and answered with close 1009.
const READ_LIMIT: usize = 4 * MAX_WS_MESSAGE;

pub(super) async fn control(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // RFC 6455 4.2.1: the key is 16 random bytes in base64; axum does not
    // check it, so a client with a bad one would be upgraded.
    let key = headers.get("sec-websocket-key").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !cam_core::protocol::is_websocket_key(key) {
        return super::json_error(axum::http::StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key");
    }
    ws.max_message_size(READ_LIMIT).max_frame_size(READ_LIMIT).on_upgrade(move |socket| session(socket, shared))
}

/// What to do with one received message.
enum Next {
    Reply(Ack),
    Close(u16, &'static str),
    Ignore,
    End,
}

async fn session(socket: WebSocket, shared: Arc<Shared>) {
    let faults = shared.config.faults.clone();
    // Dropping the socket ends the connection; over TLS the accept loop's
    // stream wrapper sends close_notify then.
    drop(serve_commands(socket, &shared, &faults).await);
}

/// Answers messages until the connection ends; returns the socket when the
/// close handshake completed.
async fn serve_commands(mut socket: WebSocket, shared: &Arc<Shared>, faults: &Faults) -> Option<WebSocket> {
    let mut reboots = shared.reboots();
    loop {
        let msg = tokio::select! {
            msg = socket.recv() => match msg {
                Some(msg) => msg,
                None => break,
            },
            // A reboot drops the connection, no close frame.
            _ = reboots.changed() => return None,
        };
        let next = match msg {
            Ok(Message::Text(t)) if t.len() > MAX_WS_MESSAGE => Next::Close(CLOSE_TOO_BIG, "message too big"),
            Ok(Message::Binary(b)) if b.len() > MAX_WS_MESSAGE => Next::Close(CLOSE_TOO_BIG, "message too big"),
            Ok(Message::Text(t))
                if faults.has(Fault::CloseOnBadJson) && Command::parse(t.as_str()) == Err(ParseError::BadJson) =>
            {
                Next::Close(1000, "bad json")
            }
            Ok(Message::Text(text)) => {
                let shared = shared.clone();
                match tokio::task::spawn_blocking(move || shared.handle_text(text.as_str())).await {
                    Ok(ack) => Next::Reply(ack),
                    Err(_) => Next::Reply(Ack::refused("internal error")),
                }
            }
            Ok(Message::Binary(_)) if faults.has(Fault::IgnoreBinary) => Next::Ignore,
            Ok(Message::Binary(_)) => Next::Reply(Ack::for_parse_error(ParseError::BadJson)),
            Ok(Message::Close(_)) if faults.has(Fault::AbruptClose) => Next::End,
            // axum answers pings; after a close, recv() ends once the reply is out.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_)) => Next::Ignore,
            Err(e) => {
                tracing::info!(error = %e, "control connection failed");
                match e.into_inner().downcast_ref::<tungstenite::Error>() {
                    // Over READ_LIMIT: the socket can still write a close.
                    Some(tungstenite::Error::Capacity(_)) => Next::Close(CLOSE_TOO_BIG, "message too big"),
                    Some(tungstenite::Error::Utf8(_)) => Next::Close(CLOSE_BAD_DATA, "invalid UTF-8"),
                    _ => Next::End,
                }
            }
        };
        match next {
            Next::Reply(ack) => {
                if socket.send(Message::Text(ack.to_json().into())).await.is_err() {
                    return None;
                }
            }
            Next::Close(code, reason) => return close_with(socket, code, reason, faults).await,
            Next::Ignore => {}
            Next::End => return None,
        }
    }
    // The client's close was answered (recv ended after the reply).
    Some(socket)
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str, faults: &Faults) -> Option<WebSocket> {
    if faults.has(Fault::NoCloseCodes) && code != 1000 {
        return None; // fault: drop the connection without a close frame
    }
    let frame = CloseFrame { code, reason: reason.into() };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return None;
    }
    // Wait for the client's close reply so the handshake completes.
    while let Some(Ok(_)) = socket.recv().await {}
    Some(socket)
}
