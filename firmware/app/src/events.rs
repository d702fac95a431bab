//! `GET /events`: the core's [`EventStream`] fed from the event channel,
//! written as a chunked `text/event-stream` response (picoserve's own
//! keep-alive would send an empty comment, not `: keepalive`).

use alloc::string::String;
use alloc::vec::Vec;

use cam_core::MotionEvent;
use cam_core::event_log::Resume;
use cam_core::protocol::{DEFAULT_KEEPALIVE_S, DEFAULT_RETRY_MS, parse_last_event_id};
use cam_core::stream::EventStream;
use core::sync::atomic::{AtomicU32, Ordering};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::pubsub::{Subscriber, WaitResult};

use embassy_futures::select::{Either, select};
use embassy_sync::watch::{self, Watch};
use embassy_time::{Duration, Timer, with_timeout};
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

/// Opens a stream: the missed events (`Last-Event-ID`) and then live ones.
/// With [`MAX_SSE_CLIENTS`] streams open, it first asks every stream to
/// prove its client is still there ([`probe`]): a client that left without
/// a word (a closed connection is only noticed when written to) gives its
/// slot up within a few round trips. Only if none does: 503 `too many event
/// streams`.
pub(crate) async fn events(
    _auth: Authorized,
    LastEventId(last_id): LastEventId,
) -> Result<impl IntoResponse, JsonReply> {
    // The deliberately broken build forgets the client's place.
    let last_id = if cfg!(feature = "break-ignore-last-event-id") { None } else { last_id };
    for round in 0..=PROBE_ROUNDS {
        if round > 0 {
            probe();
            Timer::after_millis(PROBE_WAIT_MS).await;
        }
        // Subscribe and read the buffer under the cam lock: nothing is
        // missed or sent twice between the two.
        let guard = state::CAM.lock().await;
        let Ok(subscriber) = state::EVENTS.subscriber() else { continue };
        let Some(probes) = PROBES.receiver() else { continue };
        let resume = match guard.borrow().as_ref() {
            Some(cam) => cam.log().since(last_id),
            None => Resume::fresh(0, 0),
        };
        drop(guard);
        let (stream, first) = EventStream::open(last_id, resume, Some(DEFAULT_RETRY_MS));
        let body = Events { subscriber, probes, stream, first };
        return Ok(ChunkedResponse::new(body).into_response().with_header("Cache-Control", "no-cache"));
    }
    Err(error(StatusCode::SERVICE_UNAVAILABLE, "too many event streams"))
}

/// Rounds of [`probe`] before a new stream is refused.
const PROBE_ROUNDS: u32 = 4;
/// Pause after each probe, in ms: a write to a connection the client has
/// closed is answered by a reset within a round trip, and the write after
/// that fails.
const PROBE_WAIT_MS: u64 = 25;

/// Asks every open stream to write a `: keepalive` comment now.
static PROBES: Watch<CriticalSectionRawMutex, u32, MAX_SSE_CLIENTS> = Watch::new();
static PROBE_COUNT: AtomicU32 = AtomicU32::new(0);

/// Every open stream writes a comment at once; those whose client has gone
/// fail to write (at the latest on the next probe) and end, freeing their
/// slot.
fn probe() {
    let n = critical_section::with(|_| {
        let n = PROBE_COUNT.load(Ordering::Relaxed).wrapping_add(1);
        PROBE_COUNT.store(n, Ordering::Relaxed);
        n
    });
    PROBES.sender().send(n);
}

/// A `GET /events` response body.
struct Events {
    subscriber: Subscriber<'static, CriticalSectionRawMutex, MotionEvent, CLIENT_QUEUE, MAX_SSE_CLIENTS, 1>,
    probes: watch::Receiver<'static, CriticalSectionRawMutex, u32, MAX_SSE_CLIENTS>,
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
            let next = select(self.subscriber.next_message(), self.probes.changed());
            match with_timeout(Duration::from_secs(DEFAULT_KEEPALIVE_S), next).await {
                Err(_) | Ok(Either::Second(_)) => writer.write_chunk(EventStream::keepalive().as_bytes()).await?,
                // Fallen too far behind: end the stream; the client resumes
                // with Last-Event-ID.
                Ok(Either::First(WaitResult::Lagged(_))) => return writer.finalize().await,
                Ok(Either::First(WaitResult::Message(e))) => match self.stream.live(&e) {
                    Some(block) => writer.write_chunk(block.as_bytes()).await?,
                    None => continue,
                },
            }
            writer.flush().await?;
        }
    }
}
