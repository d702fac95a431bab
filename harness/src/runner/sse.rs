//! The scenario's SSE session: the stream, every event received, the
//! events later steps have consumed, and the [`Ledger`] of acked against
//! received events.

use serde_json::Value;
use tokio::time::timeout_at;

use super::{FrameRecord, ReceivedEvent};
use crate::client::{SseItem, SseKind, SseStream, open_sse};
use crate::ledger::{Ledger, is_event_stream};
use crate::outcome::{Failure, FailureKind};
use crate::steps::clip_text;
use crate::target::Endpoint;
use crate::timeline::{Channel, Timeline};

/// The SSE side of a scenario run.
#[derive(Debug, Default)]
pub struct SseSession {
    /// `None` before setup and between `sse_disconnect` and `sse_connect`.
    stream: Option<SseStream>,
    /// Every event received, in order.
    pub events: Vec<ReceivedEvent>,
    /// Events before this index were consumed by an earlier step.
    pub cursor: usize,
    /// Acked against received events, ids and the SSE rules.
    pub ledger: Ledger,
    /// Comments received, in order.
    pub comments: Vec<String>,
    /// The `Last-Event-ID` the client sends when it reconnects: the id of
    /// the latest event it received, as eventsource-client keeps it.
    resume_id: Option<String>,
}

impl SseSession {
    /// Opens `GET /events` and waits until this client has its place: the
    /// headers when it sent `last_event_id`; without one, the cam's `hello`
    /// event too (`docs/protocol.md`, "A new client's place"), through any
    /// cut and reconnection before it. From then on no later event can be
    /// missed.
    ///
    /// # Errors
    /// The request fails, is not answered with `text/event-stream`, or the
    /// headers or the `hello` event do not come by `deadline`.
    pub async fn connect(
        &mut self,
        endpoint: &Endpoint,
        last_event_id: Option<String>,
        deadline: tokio::time::Instant,
        timeline: &mut Timeline,
    ) -> Result<(), Failure> {
        let mut sse = open_sse(endpoint, last_event_id.as_deref()).map_err(Failure::transport)?;
        timeline.push(Channel::Sse, format!("connecting, Last-Event-ID {}", last_event_id.as_deref().unwrap_or("-")));
        let fresh = last_event_id.is_none();
        self.resume_id = last_event_id;
        let mut headers = false;
        loop {
            let item = match timeout_at(deadline, sse.rx.recv()).await {
                Ok(Some(item)) => item,
                Ok(None) => return Err(Failure::transport("SSE client ended")),
                Err(_) if !headers => {
                    return Err(Failure::timeout("the SSE stream's headers", "GET /events did not connect in time"));
                }
                Err(_) => {
                    return Err(Failure::timeout(
                        "the cam's `hello` event",
                        "GET /events without Last-Event-ID answered but sent no `hello` event in time: a cam tells a new client its place first (docs/protocol.md, \"A new client's place\")",
                    ));
                }
            };
            let placed = match &item.kind {
                // Before the headers: the cam cannot be reached. After
                // them: the stream was cut and the client reconnects.
                SseKind::Error(e) if !headers => return Err(Failure::transport(format!("GET /events failed: {e}"))),
                SseKind::Connected { content_type, .. } if !is_event_stream(content_type) => {
                    return Err(Failure::sse_rules(format!(
                        "GET /events answered with Content-Type {content_type:?}, not text/event-stream: the target does not speak SSE"
                    )));
                }
                SseKind::Connected { .. } => {
                    headers = true;
                    !fresh
                }
                // A cam without `hello` breaks the ledger's rules: its first
                // event ends the wait, and the rule fails the step.
                SseKind::Event { .. } => true,
                _ => false,
            };
            self.record(item, timeline);
            if placed {
                break;
            }
        }
        self.stream = Some(sse);
        Ok(())
    }

    /// Whether the stream is open (not cut by an `sse_disconnect` step).
    pub fn connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Cuts the stream (the client goes away without a word).
    pub fn disconnect(&mut self, timeline: &mut Timeline) {
        self.drain(timeline);
        self.stream = None;
    }

    /// Records what has arrived, without waiting.
    pub fn drain(&mut self, timeline: &mut Timeline) {
        while let Some(item) = self.stream.as_mut().and_then(|s| s.rx.try_recv().ok()) {
            self.record(item, timeline);
        }
    }

    /// Receives and records the next item: `Ok(true)` when one came before
    /// `deadline`, `Ok(false)` at the deadline.
    ///
    /// # Errors
    /// The stream is disconnected (an `sse_disconnect` step) or its client
    /// ended.
    pub async fn next(&mut self, deadline: tokio::time::Instant, timeline: &mut Timeline) -> Result<bool, Failure> {
        let sse = self.stream.as_mut().ok_or_else(|| {
            Failure::transport(
                "the SSE stream is disconnected (add an `sse_connect` step before expecting events)".to_string(),
            )
        })?;
        match timeout_at(deadline, sse.rx.recv()).await {
            Ok(Some(item)) => {
                self.record(item, timeline);
                Ok(true)
            }
            Ok(None) => Err(Failure::transport("SSE client ended")),
            Err(_) => Ok(false),
        }
    }

    /// Waits until the stream has delivered a `motion` event for every frame
    /// the target acked as motion (by id; by count for cams without ids in
    /// their acks), or the stream moved on to a later boot without it.
    ///
    /// # Errors
    /// A [`FailureKind::Timeout`] naming the frames whose events never
    /// came, or the SSE rules the stream broke meanwhile.
    pub async fn catch_up(
        &mut self,
        frames: &[FrameRecord],
        deadline: tokio::time::Instant,
        timeline: &mut Timeline,
    ) -> Result<(), Failure> {
        self.drain(timeline);
        while self.ledger.awaiting() {
            if !self.next(deadline, timeline).await? {
                // A broken rule explains a missing event best.
                self.ledger.check()?;
                let acked: Vec<String> =
                    frames.iter().filter(|f| f.reply.motion).map(|f| f.reply.frame.to_string()).collect();
                let (n_acked, n_received) = self.ledger.counts();
                let awaited: Vec<String> = self.ledger.awaited().iter().take(8).map(|id| id.to_string()).collect();
                let awaited = if awaited.is_empty() {
                    String::new()
                } else {
                    format!("; still awaited: ids {}", awaited.join(", "))
                };
                return Err(Failure::timeout(
                    format!("{} motion event(s) the target acked", n_acked - n_received.min(n_acked)),
                    format!(
                        "the target acked {n_acked} frame(s) as motion (frames {}) but the SSE stream delivered only {n_received} `motion` event(s) before the timeout{awaited}",
                        acked.join(", "),
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Watches the stream until `until`, failing on the first event not yet
    /// consumed.
    ///
    /// # Errors
    /// An event arrived ([`FailureKind::Mismatch`]).
    pub async fn watch_quiet(&mut self, until: tokio::time::Instant, timeline: &mut Timeline) -> Result<(), Failure> {
        loop {
            let Some(sse) = self.stream.as_mut() else {
                return Err(Failure::transport(
                    "the SSE stream is disconnected: quiet cannot be told from absent (add an `sse_connect` step)",
                ));
            };
            match timeout_at(until, sse.rx.recv()).await {
                Ok(Some(item)) => {
                    self.record(item, timeline);
                    self.check_no_new_event()?;
                }
                Ok(None) => return Err(Failure::transport("SSE client ended while the stream was watched")),
                Err(_) => return Ok(()),
            }
        }
    }

    /// `Ok` when no event arrived beyond those consumed. A `hello` event
    /// tells a new connection its place; it is not news from the cam.
    ///
    /// # Errors
    /// The events that did, as a mismatch of the event count.
    pub fn check_no_new_event(&self) -> Result<(), Failure> {
        let new: Vec<&ReceivedEvent> = self.events[self.cursor..].iter().filter(|e| e.name != "hello").collect();
        if new.is_empty() {
            Ok(())
        } else {
            let m = crate::outcome::Mismatch {
                path: "events".into(),
                expected: "none".into(),
                actual: format!("{}{}", new.len(), summarize(&new)),
            };
            Err(Failure::new(
                FailureKind::Mismatch(m),
                format!("expected no event, {} arrived{}", new.len(), summarize(&new)),
            ))
        }
    }

    fn record(&mut self, item: SseItem, timeline: &mut Timeline) {
        match item.kind {
            SseKind::Connected { status, content_type } => {
                self.ledger.on_connect(&content_type, self.resume_id.as_deref().filter(|id| !id.is_empty()));
                timeline.push_at(item.at, Channel::Sse, format!("connected ({status})"));
            }
            SseKind::Comment(c) => {
                timeline.push_at(item.at, Channel::Sse, format!(": {c}"));
                self.comments.push(c);
            }
            SseKind::Error(e) => timeline.push_at(item.at, Channel::Sse, format!("error: {e}")),
            SseKind::Event { name, id, retry, data } => {
                let shown_retry = retry.map_or(String::new(), |r| format!(" retry {r}"));
                timeline.push_at(
                    item.at,
                    Channel::Sse,
                    format!("event {name} id {}{shown_retry} {}", id.as_deref().unwrap_or("-"), clip_text(&data)),
                );
                self.ledger.on_event(&name, id.as_deref(), retry, &data);
                self.resume_id.clone_from(&id);
                let at_ms = timeline.entries.last().map_or(0.0, |e| e.at_ms);
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                self.events.push(ReceivedEvent { name, id, data, at_ms });
            }
        }
    }
}

/// Up to 8 events, one per line, after a colon (nothing for none).
pub fn summarize(events: &[&ReceivedEvent]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut s = String::from(":");
    for e in events.iter().take(8) {
        s.push_str(&format!("\n  id {} {}", e.id.as_deref().unwrap_or("-"), e.data));
    }
    if events.len() > 8 {
        s.push_str(&format!("\n  … and {} more", events.len() - 8));
    }
    s
}
