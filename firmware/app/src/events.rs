//! `GET /events`: the core's [`EventStream`] fed from the event channel,
//! written as a chunked `text/event-stream` response (picoserve's own
//! keep-alive would send an empty comment, not `: keepalive`).

use alloc::string::String;
use alloc::vec::Vec;

use cam_core::MotionEvent;
use cam_core::event_log::Resume;
use cam_core::protocol::{DEFAULT_KEEPALIVE_S, DEFAULT_RETRY_MS, parse_last_event_id};
use cam_core::stream::EventStream;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::pubsub::{Subscriber, WaitResult};
use embassy_time::{Duration, with_timeout};
use picoserve::extract::FromRequestParts;
use picoserve::io::Write;
use picoserve::request::RequestParts;
use picoserve::response::chunked::{ChunkWriter, ChunkedResponse, Chunks, ChunksWritten};
use picoserve::response::{IntoResponse, StatusCode};

use crate::limits::{CLIENT_QUEUE, MAX_SSE_CLIENTS};
use crate::state;
use crate::web::{Authorized, JsonReply, error};

/// `Last-Event-ID`, if sent.
pub(crate) struct LastEventId(Option<cam_core::event_log::LastEventId>);

impl<'r, S> FromRequestParts<'r, S> for LastEventId {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        let header = parts.headers().get("Last-Event-ID").map(|v| v.as_str().unwrap_or("?"));
        parse_last_event_id(header).map(LastEventId).map_err(|_| error(StatusCode::BAD_REQUEST, "bad Last-Event-ID"))
    }
}

/// Opens a stream: 503 `too many event streams` beyond
/// [`MAX_SSE_CLIENTS`], else the missed events (`Last-Event-ID`) and then
/// live ones.
pub(crate) async fn events(
    _auth: Authorized,
    LastEventId(last_id): LastEventId,
) -> Result<impl IntoResponse, JsonReply> {
    // The deliberately broken build forgets the client's place.
    let last_id = if cfg!(feature = "break-ignore-last-event-id") { None } else { last_id };
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

/// A `GET /events` response body.
struct Events {
    subscriber: Subscriber<'static, CriticalSectionRawMutex, MotionEvent, CLIENT_QUEUE, MAX_SSE_CLIENTS, 1>,
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
