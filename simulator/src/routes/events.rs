//! `GET /events`: the SSE stream of `motion` events (`docs/protocol.md`),
//! written by the core's [`cam_core::stream::EventStream`] (resume, `gap`,
//! `retry`, keep-alive) like every target's.
//!
//! A client that falls more than `client_queue` events behind is
//! disconnected (it resumes with `Last-Event-ID`), so it never holds up the
//! detector or other clients.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cam_core::MotionEvent;
use cam_core::protocol::parse_last_event_id;
use cam_core::stream::EventStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::json_error;
use crate::config::{Fault, Faults};
use crate::shared::Shared;

pub(super) async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let header = headers.get("last-event-id").map(|v| v.to_str().unwrap_or("?"));
    let Ok(last_id) = parse_last_event_id(header) else {
        return json_error(StatusCode::BAD_REQUEST, "bad Last-Event-ID");
    };
    let faults = shared.config.faults.clone();
    let last_id = last_id.filter(|_| !faults.has(Fault::IgnoreLastEventId));
    let (rx, resume) = shared.subscribe(last_id);
    let retry = Some(shared.config.retry_ms).filter(|_| !faults.has(Fault::NoRetry));
    let mut resume = resume;
    resume.restarted &= !faults.has(Fault::NoRestartEvent);
    let (stream, mut first) = EventStream::open(last_id, resume, retry);
    if faults.has(Fault::NoHello) && last_id.is_none() {
        // A fresh stream's first block is its `hello` (`EventStream::open`).
        first.remove(0);
    }
    let period = shared.config.keepalive;
    let mut keepalive = tokio::time::interval_at(Instant::now() + period, period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let conn = Connection { rx, stream, backlog: first.into(), keepalive, faults };
    let body = Body::from_stream(futures_util::stream::unfold(conn, |mut c| async move {
        let bytes = c.next_block().await?;
        Some((Ok::<_, Infallible>(bytes), c))
    }));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

struct Connection {
    rx: broadcast::Receiver<MotionEvent>,
    stream: EventStream,
    backlog: VecDeque<String>,
    keepalive: Interval,
    faults: Faults,
}

impl Connection {
    /// The next bytes to write, or `None` to end the response.
    async fn next_block(&mut self) -> Option<String> {
        if let Some(block) = self.backlog.pop_front() {
            return Some(self.with_faults(block));
        }
        loop {
            tokio::select! {
                // A reboot closes the channel once its events are out.
                received = self.rx.recv() => match received {
                    Ok(event) => match self.stream.live(&event) {
                        Some(block) => return Some(self.with_faults(block)),
                        None => continue,
                    },
                    Err(RecvError::Lagged(n)) => {
                        tracing::info!(missed = n, "SSE client fell behind; closing its stream");
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.keepalive.tick() => {
                    if !self.faults.has(Fault::NoKeepalive) {
                        return Some(EventStream::keepalive());
                    }
                }
            }
        }
    }

    /// The simulator's deliberate breaches of the event framing.
    fn with_faults(&mut self, block: String) -> String {
        let block = if self.faults.has(Fault::OmitIds) {
            block.lines().filter(|l| !l.starts_with("id: ")).map(|l| format!("{l}\n")).collect()
        } else {
            block
        };
        if self.faults.has(Fault::DuplicateEvents) { block.repeat(2) } else { block }
    }
}
