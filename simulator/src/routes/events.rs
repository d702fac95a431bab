//! `GET /events`: the SSE stream of `motion` events (`docs/protocol.md`).
//!
//! Each connection: first, for a client sending `Last-Event-ID`, a `gap`
//! event if some of the events after its id have left the buffer, then the
//! buffered events after its id in order; then live events. `retry:` rides
//! on the first event, `id:` on every one, and a `: keepalive` comment goes
//! out every keep-alive period. A client that falls more than
//! `client_queue` events behind is disconnected (it resumes with
//! `Last-Event-ID`), so it never holds up the detector or other clients.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cam_core::MotionEvent;
use cam_core::sse::{self, SseEvent};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::json_error;
use crate::config::{Fault, Faults};
use crate::shared::Shared;

pub(super) async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let last_id = match headers.get("last-event-id").map(|v| v.to_str().map(str::trim)) {
        None | Some(Ok("")) => None,
        Some(Ok(s)) => match s.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => return json_error(StatusCode::BAD_REQUEST, "bad Last-Event-ID"),
        },
        Some(Err(_)) => return json_error(StatusCode::BAD_REQUEST, "bad Last-Event-ID"),
    };
    let last_id = last_id.filter(|_| !shared.config.faults.has(Fault::IgnoreLastEventId));
    let (rx, resume) = shared.subscribe(last_id);
    let mut first_blocks = VecDeque::new();
    if let (Some(first), Some(last)) = (resume.gap, last_id) {
        // `id` is the last id the client can no longer get, so a client
        // that reconnects after this event resumes at the first one it can.
        let data = format!(r#"{{"missed_from":{},"first":{first}}}"#, last + 1);
        let id = (first - 1).to_string();
        first_blocks.push_back(Block::Raw { event: "gap", id, data });
    }
    let mut sent_up_to = last_id.unwrap_or(0);
    for event in resume.events {
        sent_up_to = event.id;
        first_blocks.push_back(Block::Motion(event));
    }
    let period = shared.config.keepalive;
    let mut keepalive = tokio::time::interval_at(Instant::now() + period, period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stream = Stream {
        faults: shared.config.faults.clone(),
        rx,
        backlog: first_blocks,
        keepalive,
        retry_ms: Some(shared.config.retry_ms).filter(|_| !shared.config.faults.has(Fault::NoRetry)),
        skip_up_to: sent_up_to,
    };
    let body = Body::from_stream(futures_util::stream::unfold(stream, |mut s| async move {
        let bytes = s.next_block().await?;
        Some((Ok::<_, Infallible>(bytes), s))
    }));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

enum Block {
    Motion(MotionEvent),
    Raw { event: &'static str, id: String, data: String },
}

struct Stream {
    faults: Faults,
    rx: broadcast::Receiver<MotionEvent>,
    backlog: VecDeque<Block>,
    keepalive: Interval,
    /// `retry:` still to send (on the first event of the connection).
    retry_ms: Option<u64>,
    /// Live events up to this id were already sent from the buffer.
    skip_up_to: u64,
}

impl Stream {
    /// The next bytes to write, or `None` to end the response.
    async fn next_block(&mut self) -> Option<String> {
        if let Some(block) = self.backlog.pop_front() {
            return Some(self.frame(block));
        }
        loop {
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(event) if event.id <= self.skip_up_to => continue,
                    Ok(event) => return Some(self.frame(Block::Motion(event))),
                    Err(RecvError::Lagged(n)) => {
                        tracing::info!(missed = n, "SSE client fell behind; closing its stream");
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.keepalive.tick() => {
                    if !self.faults.has(Fault::NoKeepalive) {
                        return Some(sse::comment("keepalive"));
                    }
                }
            }
        }
    }

    fn frame(&mut self, block: Block) -> String {
        let retry_ms = self.retry_ms.take();
        let (event, id, data) = match block {
            Block::Motion(e) => ("motion", e.id.to_string(), e.data_json()),
            Block::Raw { event, id, data } => (event, id, data),
        };
        let id = (!self.faults.has(Fault::OmitIds)).then_some(id.as_str());
        let text = SseEvent { event: Some(event), id, retry_ms, data: &data }.frame();
        if self.faults.has(Fault::DuplicateEvents) { text.repeat(2) } else { text }
    }
}
