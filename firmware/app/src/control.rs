//! `GET /control`: JSON commands over a WebSocket, one ack per text frame,
//! in order (`docs/protocol.md`, seed chapter "Two-way control with
//! WebSockets").

use cam_core::Command;
use cam_core::command::Ack;
use cam_core::protocol::{CLOSE_BAD_DATA, CLOSE_TOO_BIG, MAX_WS_MESSAGE};
use cam_core::storage::NoStorage;
use picoserve::futures::Either;
use picoserve::io::{Read, Write};
use picoserve::response::IntoResponse;
use picoserve::response::ws::{
    Message, ReadFrameError, ReadMessageError, SocketRx, SocketTx, WebSocketCallback, WebSocketUpgrade,
};

use crate::state;
use crate::storage::{Installed, STORAGE};
use crate::web::{Authorized, try_copy};

pub(crate) async fn control(_auth: Authorized, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(Control)
}

/// One WebSocket connection.
struct Control;

impl WebSocketCallback for Control {
    async fn run<R: Read, W: Write<Error = R::Error>>(
        self,
        mut rx: SocketRx<R>,
        mut tx: SocketTx<W>,
    ) -> Result<(), W::Error> {
        // One message at a time, at most 16 KiB: allocated per connection.
        let mut buffer = alloc::vec![0u8; MAX_WS_MESSAGE];
        loop {
            let message = match rx.next_message(&mut buffer, core::future::pending::<()>()).await? {
                Either::First(Ok(m)) => m,
                Either::First(Err(ReadMessageError::ReadFrameError(
                    ReadFrameError::OutOfSpace | ReadFrameError::MessageIsTooLong(_),
                ))) => return tx.close((CLOSE_TOO_BIG, "message too big")).await,
                Either::First(Err(ReadMessageError::TextIsNotUtf8)) => {
                    return tx.close((CLOSE_BAD_DATA, "invalid UTF-8")).await;
                }
                Either::First(Err(e)) => return tx.close((e.code(), "")).await,
                Either::Second(()) => return Ok(()),
            };
            match message {
                Message::Text(text) => tx.send_text(&command(text).await.to_json()).await?,
                Message::Binary(_) => tx.send_text(r#"{"error":"bad json"}"#).await?,
                Message::Ping(data) => tx.send_pong(data).await?,
                Message::Pong(_) => {}
                Message::Close(_) => return tx.close(None).await,
            }
        }
    }
}

/// One command's ack. `snapshot_now` copies the latest frame under the cam
/// lock and writes it under the storage lock only, so a slow card stalls no
/// frame, stream or other command.
async fn command(text: &str) -> Ack {
    let now_s = state::now_ms() / 1000;
    match Command::parse(text) {
        Ok(Command::SnapshotNow) => {
            let copy = state::with_cam(|cam| cam.latest().map(|f| try_copy(&f.jpeg))).await;
            match copy {
                None => Ack::refused("no frame yet"),
                Some(None) => Ack::refused("out of memory"),
                Some(Some(jpeg)) => {
                    let mut store = STORAGE.lock().await;
                    cam_core::state::snapshot(&mut Installed(&mut store), now_s, &jpeg)
                }
            }
        }
        // No other command touches storage.
        Ok(cmd) => state::with_cam(|cam| cam.apply(cmd, now_s, &mut NoStorage("unused"))).await,
        Err(e) => Ack::for_parse_error(e),
    }
}
