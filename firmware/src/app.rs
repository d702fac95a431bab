//! The cam protocol (`docs/protocol.md`) on picoserve: the same routes as
//! the simulator, built from the same core (commands, SSE stream, request
//! parsing). SSE bytes are the core's, written through a chunked response
//! (picoserve's own keep-alive would send an empty comment, not
//! `: keepalive`).

use alloc::string::String;
use alloc::vec::Vec;

use cam_core::event_log::Resume;
#[cfg(feature = "hil")]
use cam_core::protocol::FrameReply;
use cam_core::protocol::{
    CLOSE_BAD_DATA, CLOSE_TOO_BIG, DEFAULT_KEEPALIVE_S, DEFAULT_RETRY_MS, MAX_WS_MESSAGE, bearer_token,
    parse_last_event_id, query_token, token_matches,
};
use cam_core::stream::EventStream;
use cam_core::{MotionEvent, web};
use embassy_sync::pubsub::WaitResult;
use embassy_time::{Duration, with_timeout};
use picoserve::Router;
#[cfg(feature = "hil")]
use picoserve::extract::FromRequest;
use picoserve::extract::FromRequestParts;
use picoserve::futures::Either;
use picoserve::io::{Read, Write};
#[cfg(feature = "hil")]
use picoserve::request::RequestBody;
use picoserve::request::RequestParts;
use picoserve::response::chunked::{ChunkWriter, ChunkedResponse, Chunks, ChunksWritten};
use picoserve::response::fs::File;
use picoserve::response::ws::{
    Message, ReadFrameError, ReadMessageError, SocketRx, SocketTx, WebSocketCallback, WebSocketUpgrade,
};
use picoserve::response::{IntoResponse, StatusCode};
#[cfg(feature = "hil")]
use picoserve::routing::post;
use picoserve::routing::{PathRouter, get, get_service};

use crate::state;
use crate::storage::STORAGE;

/// Largest `POST /hil/frame` body, in bytes; larger: 413.
#[cfg(feature = "hil")]
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The token every route but `/` and `/app.js` needs, set at build time
/// (`CAM_TOKEN=…`); none when unset.
const TOKEN: Option<&str> = option_env!("CAM_TOKEN");

type JsonReply = (StatusCode, [(&'static str, &'static str); 1], String);

fn json(status: StatusCode, body: impl Into<String>) -> JsonReply {
    (status, [("Content-Type", "application/json")], body.into())
}

fn error(status: StatusCode, message: &str) -> JsonReply {
    json(status, alloc::format!(r#"{{"error":"{message}"}}"#))
}

/// Ms since boot: the board has no wall clock, so capture times without
/// `X-Frame-Ts` and snapshot names count from boot.
fn now_ms() -> u64 {
    embassy_time::Instant::now().as_millis()
}

/// The whole protocol as a picoserve router.
pub fn router() -> Router<impl PathRouter> {
    let router = Router::new()
        .route("/", get_service(File::html(web::INDEX_HTML)))
        .route("/app.js", get_service(File::javascript(web::APP_JS)))
        .route("/status", get(status))
        .route("/snapshot.jpg", get(snapshot))
        .route("/events", get(events))
        .route("/control", get(control));
    with_hil(router)
}

#[cfg(feature = "hil")]
fn with_hil<P: PathRouter>(router: Router<P>) -> Router<impl PathRouter> {
    router.route("/hil/frame", post(hil_frame)).route("/hil/reset", post(hil_reset))
}

/// A production build has no HIL routes.
#[cfg(not(feature = "hil"))]
fn with_hil<P: PathRouter>(router: Router<P>) -> Router<impl PathRouter> {
    router
}

/// Passes when the build has no token, or the request carries it as
/// `Authorization: Bearer` or `?token=`.
struct Authorized;

impl<'r, S> FromRequestParts<'r, S> for Authorized {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        let Some(expected) = TOKEN else { return Ok(Authorized) };
        let headers = parts.headers();
        let bearer = headers.get("Authorization").and_then(|v| v.as_str().ok()).and_then(bearer_token);
        let query = parts.query().and_then(|q| query_token(q.0));
        match bearer.or(query.as_deref()) {
            Some(given) if token_matches(expected, given) => Ok(Authorized),
            _ => Err(error(StatusCode::UNAUTHORIZED, "unauthorized")),
        }
    }
}

async fn status(_auth: Authorized) -> JsonReply {
    let s = state::with_cam(|cam| cam.status()).await;
    json(StatusCode::OK, serde_json::to_string(&s).unwrap_or_default())
}

async fn snapshot(_auth: Authorized) -> Result<(StatusCode, [(&'static str, &'static str); 2], Vec<u8>), JsonReply> {
    match state::with_cam(|cam| cam.latest().map(|f| f.jpeg.clone())).await {
        Some(jpeg) => Ok((StatusCode::OK, [("Content-Type", "image/jpeg"), ("Cache-Control", "no-cache")], jpeg)),
        None => Err(error(StatusCode::SERVICE_UNAVAILABLE, "no frame yet")),
    }
}

/// `Last-Event-ID`, if sent.
struct LastEventId(Option<cam_core::event_log::LastEventId>);

impl<'r, S> FromRequestParts<'r, S> for LastEventId {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        let header = parts.headers().get("Last-Event-ID").map(|v| v.as_str().unwrap_or("?"));
        parse_last_event_id(header).map(LastEventId).map_err(|_| error(StatusCode::BAD_REQUEST, "bad Last-Event-ID"))
    }
}

async fn events(_auth: Authorized, LastEventId(last_id): LastEventId) -> Result<impl IntoResponse, JsonReply> {
    // Subscribe and read the buffer under the cam lock: nothing is missed
    // or sent twice between the two.
    let guard = state::CAM.lock().await;
    let subscriber =
        state::EVENTS.subscriber().map_err(|_| error(StatusCode::SERVICE_UNAVAILABLE, "too many event streams"))?;
    let resume = match guard.borrow().as_ref() {
        Some(cam) => cam.log().since(last_id),
        None => Resume::fresh(0),
    };
    drop(guard);
    let (stream, first) = EventStream::open(last_id, resume, Some(DEFAULT_RETRY_MS));
    let body = Events { subscriber, stream, first };
    Ok(ChunkedResponse::new(body).into_response().with_header("Cache-Control", "no-cache"))
}

/// A `GET /events` response body: the core's [`EventStream`] fed from the
/// event channel.
struct Events {
    subscriber: embassy_sync::pubsub::Subscriber<
        'static,
        embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex,
        MotionEvent,
        { state::CLIENT_QUEUE },
        { state::MAX_SSE_CLIENTS },
        1,
    >,
    stream: EventStream,
    first: Vec<String>,
}

impl Chunks for Events {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    async fn write_chunks<W: Write>(mut self, mut writer: ChunkWriter<W>) -> Result<ChunksWritten, W::Error> {
        for block in core::mem::take(&mut self.first) {
            writer.write_chunk(block.as_bytes()).await?;
        }
        writer.flush().await?;
        loop {
            match with_timeout(Duration::from_secs(DEFAULT_KEEPALIVE_S), self.subscriber.next_message()).await {
                Err(_) => writer.write_chunk(EventStream::keepalive().as_bytes()).await?,
                // Fallen too far behind: end the stream; the client resumes
                // with Last-Event-ID.
                Ok(WaitResult::Lagged(_)) => return writer.finalize().await,
                Ok(WaitResult::Message(e)) => match self.stream.live(&e) {
                    Some(block) => writer.write_chunk(block.as_bytes()).await?,
                    None => continue,
                },
            }
            writer.flush().await?;
        }
    }
}

async fn control(_auth: Authorized, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(Control)
}

/// `GET /control`: one ack per message, in order.
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
                Message::Text(text) => {
                    // Storage before the cam: the one lock order.
                    let mut store = STORAGE.lock().await;
                    let ack = state::with_cam(|cam| cam.handle_text(text, now_ms() / 1000, &mut *store)).await;
                    tx.send_text(&ack.to_json()).await?;
                }
                Message::Binary(_) => tx.send_text(r#"{"error":"bad json"}"#).await?,
                Message::Ping(data) => tx.send_pong(data).await?,
                Message::Pong(_) => {}
                Message::Close(_) => return tx.close(None).await,
            }
        }
    }
}

/// `X-Frame-Ts`: capture time in ms since the Unix epoch (default: ms since
/// boot).
#[cfg(feature = "hil")]
struct FrameTs(u64);

#[cfg(feature = "hil")]
impl<'r, S> FromRequestParts<'r, S> for FrameTs {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        match parts.headers().get("X-Frame-Ts").map(|v| v.as_str().ok().and_then(|s| s.trim().parse().ok())) {
            None => Ok(FrameTs(now_ms())),
            Some(Some(ts)) => Ok(FrameTs(ts)),
            Some(None) => Err(error(StatusCode::BAD_REQUEST, "bad X-Frame-Ts")),
        }
    }
}

/// A frame body, at most [`MAX_FRAME_BYTES`] (413 above), on the heap.
#[cfg(feature = "hil")]
struct FrameBody(Vec<u8>);

#[cfg(feature = "hil")]
impl<'r, S> FromRequest<'r, S> for FrameBody {
    type Rejection = JsonReply;

    async fn from_request<R: Read>(
        _state: &'r S,
        _parts: RequestParts<'r>,
        body: RequestBody<'r, R>,
    ) -> Result<Self, Self::Rejection> {
        let length = body.content_length();
        if length > MAX_FRAME_BYTES {
            return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "frame too large"));
        }
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(length).map_err(|_| error(StatusCode::SERVICE_UNAVAILABLE, "out of memory"))?;
        buffer.resize(length, 0);
        body.reader().read_exact(&mut buffer).await.map_err(|_| error(StatusCode::BAD_REQUEST, "short body"))?;
        Ok(FrameBody(buffer))
    }
}

#[cfg(feature = "hil")]
async fn hil_frame(_auth: Authorized, FrameTs(ts_ms): FrameTs, FrameBody(jpeg): FrameBody) -> JsonReply {
    match state::process_frame(jpeg, ts_ms).await {
        Ok(o) => {
            let reply = FrameReply::from(&o);
            json(StatusCode::OK, serde_json::to_string(&reply).unwrap_or_default())
        }
        Err(_) => error(StatusCode::BAD_REQUEST, "bad frame"),
    }
}

#[cfg(feature = "hil")]
async fn hil_reset(_auth: Authorized) -> JsonReply {
    state::with_cam(|cam| cam.hil_reset()).await;
    crate::console::hil_reset();
    json(StatusCode::OK, r#"{"ok":true}"#)
}
