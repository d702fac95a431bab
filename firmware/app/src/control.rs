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
use picoserve::response::ws::{ReadFrameError, SocketRx, SocketTx, WebSocketCallback, WebSocketUpgrade};

use crate::state;
use crate::storage::{Installed, STORAGE};
use crate::web::{Authorized, try_copy};

pub(crate) async fn control(_auth: Authorized, _key: WellFormedKey, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(Control)
}

/// Passes when the upgrade's `Sec-WebSocket-Key` is well formed (16 bytes
/// of base64, RFC 6455 4.2.1); picoserve takes any, so a bad one is
/// answered 400 here, before the upgrade.
pub(crate) struct WellFormedKey;

impl<'r, S> picoserve::extract::FromRequestParts<'r, S> for WellFormedKey {
    type Rejection = crate::web::JsonReply;

    async fn from_request_parts(
        _state: &'r S,
        parts: &picoserve::request::RequestParts<'r>,
    ) -> Result<Self, Self::Rejection> {
        let key = parts.headers().get("Sec-WebSocket-Key").and_then(|v| v.as_str().ok()).unwrap_or("");
        if cam_core::protocol::is_websocket_key(key) {
            Ok(WellFormedKey)
        } else {
            Err(crate::web::error(picoserve::response::StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key"))
        }
    }
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
            match next_message(&mut rx, &mut tx, &mut buffer).await? {
                Incoming::Text(len) => match core::str::from_utf8(&buffer[..len]) {
                    Ok(text) => tx.send_text(&command(text).await.to_json()).await?,
                    Err(_) => return tx.close((CLOSE_BAD_DATA, "invalid UTF-8")).await,
                },
                Incoming::Binary => tx.send_text(r#"{"error":"bad json"}"#).await?,
                Incoming::Close => return tx.close(None).await,
                Incoming::Broken(code, reason) => return tx.close((code, reason)).await,
                Incoming::Gone => return Ok(()),
            }
        }
    }
}

/// What [`next_message`] read.
enum Incoming {
    /// A text message of this many bytes, at the start of the buffer.
    Text(usize),
    /// A binary message.
    Binary,
    /// A close frame.
    Close,
    /// A frame the protocol does not allow here: close with this code.
    Broken(u16, &'static str),
    /// The connection ended.
    Gone,
}

/// RFC 6455 5.4: a protocol error, close code 1002.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;

/// The next data message, its fragments put together in `buffer`, with the
/// pings that come before or between them answered (RFC 6455 5.4 lets
/// control frames come between the fragments of a message; picoserve's own
/// `next_message` refuses them).
async fn next_message<R: Read, W: Write<Error = R::Error>>(
    rx: &mut SocketRx<R>,
    tx: &mut SocketTx<W>,
    buffer: &mut [u8],
) -> Result<Incoming, W::Error> {
    use picoserve::response::ws::{Control as Ctl, Data, Opcode};
    let mut len = 0;
    let mut text = None;
    loop {
        let frame = match rx.next_frame(&mut buffer[len..], core::future::pending::<()>()).await? {
            Either::First(Ok(f)) => f,
            Either::First(Err(ReadFrameError::OutOfSpace | ReadFrameError::MessageIsTooLong(_))) => {
                return Ok(Incoming::Broken(CLOSE_TOO_BIG, "message too big"));
            }
            Either::First(Err(ReadFrameError::UnexpectedEof)) | Either::Second(()) => return Ok(Incoming::Gone),
        };
        match frame.opcode {
            Opcode::Control(Ctl::Ping) => {
                let payload = &buffer[len..len + frame.length];
                tx.send_pong(payload).await?;
                continue;
            }
            Opcode::Control(Ctl::Pong) => continue,
            Opcode::Control(Ctl::Close) => return Ok(Incoming::Close),
            Opcode::Data(Data::Text | Data::Binary) if text.is_some() => {
                return Ok(Incoming::Broken(CLOSE_PROTOCOL_ERROR, "a new message inside a fragmented one"));
            }
            Opcode::Data(Data::Text) => text = Some(true),
            Opcode::Data(Data::Binary) => text = Some(false),
            Opcode::Data(Data::Continue) if text.is_none() => {
                return Ok(Incoming::Broken(CLOSE_PROTOCOL_ERROR, "a continuation without a message"));
            }
            Opcode::Data(Data::Continue) => {}
            Opcode::Data(Data::Reserved(_)) | Opcode::Control(Ctl::Reserved(_)) => {
                return Ok(Incoming::Broken(CLOSE_PROTOCOL_ERROR, "reserved opcode"));
            }
        }
        len += frame.length;
        if frame.is_final {
            return Ok(match text {
                Some(true) => Incoming::Text(len),
                _ => Incoming::Binary,
            });
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
