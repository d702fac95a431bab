//! One `GET /events` connection, as every target writes it: on connect, a
//! `restart` event if the client's `Last-Event-ID` is from before the cam
//! restarted, or a `gap` event if it fell out of the buffer, then
//! the buffered events after it; then live events, skipping those already
//! sent from the buffer; `retry:` on the first event; `: keepalive` comments
//! when idle.
//!
//! Source: `docs/protocol.md` ("`GET /events`", "Resume").

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::event_log::{MotionEvent, Resume};
use crate::sse::{self, SseEvent};

/// The state of one SSE connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    /// Live events up to this id were already sent.
    sent_up_to: u64,
    /// `retry:` still to send, in ms (on the first event).
    retry_ms: Option<u64>,
}

impl EventStream {
    /// Opens a connection for a client that sent `last_id`
    /// (`Last-Event-ID`), given what the event log holds after it. Returns
    /// the stream and the blocks to send before any live event.
    pub fn open(last_id: Option<u64>, resume: Resume, retry_ms: Option<u64>) -> (Self, Vec<String>) {
        let mut stream = Self { sent_up_to: last_id.unwrap_or(0), retry_ms };
        let mut blocks = Vec::with_capacity(resume.events.len() + 2);
        if let (true, Some(last)) = (resume.restarted, last_id) {
            // The cam restarted: ids begin again. `id: 0` makes the client's
            // next Last-Event-ID point before the first id of this boot.
            stream.sent_up_to = 0;
            blocks.push(stream.block("restart", 0, &format!(r#"{{"last_id":{last}}}"#)));
            if let Some(first) = resume.gap {
                blocks.push(stream.block("gap", first - 1, &format!(r#"{{"missed_from":1,"first":{first}}}"#)));
            }
        } else if let (Some(first), Some(last)) = (resume.gap, last_id) {
            // Its id is the last one the client can no longer get, so a
            // client reconnecting right after it resumes at `first`.
            let data = format!(r#"{{"missed_from":{},"first":{first}}}"#, last + 1);
            blocks.push(stream.block("gap", first - 1, &data));
        }
        for e in &resume.events {
            stream.sent_up_to = e.id;
            blocks.push(stream.block("motion", e.id, &e.data_json()));
        }
        (stream, blocks)
    }

    /// The block for a live event, or `None` when it was already sent from
    /// the buffer.
    pub fn live(&mut self, event: &MotionEvent) -> Option<String> {
        if event.id <= self.sent_up_to {
            return None;
        }
        self.sent_up_to = event.id;
        Some(self.block("motion", event.id, &event.data_json()))
    }

    /// The keep-alive comment, `: keepalive`.
    pub fn keepalive() -> String {
        sse::comment("keepalive")
    }

    fn block(&mut self, event: &str, id: u64, data: &str) -> String {
        let id = id.to_string();
        SseEvent { event: Some(event), id: Some(&id), retry_ms: self.retry_ms.take(), data }.frame()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64) -> MotionEvent {
        MotionEvent { id, ts: 1.0, count: id, change: 0.5, frame: id }
    }

    #[test]
    fn a_fresh_connection_sends_live_events_with_retry_once() {
        let (mut s, first) =
            EventStream::open(None, Resume { events: Vec::new(), gap: None, restarted: false }, Some(3000));
        assert!(first.is_empty());
        assert!(s.live(&ev(1)).unwrap().starts_with("event: motion\nid: 1\nretry: 3000\n"));
        assert!(s.live(&ev(2)).unwrap().starts_with("event: motion\nid: 2\ndata: "));
    }

    #[test]
    fn a_resume_sends_the_buffer_then_skips_what_it_sent() {
        let (mut s, first) = EventStream::open(
            Some(1),
            Resume { events: alloc::vec![ev(2), ev(3)], gap: None, restarted: false },
            Some(3000),
        );
        assert_eq!(first.len(), 2);
        assert!(first[0].starts_with("event: motion\nid: 2\nretry: 3000\n"));
        assert!(s.live(&ev(3)).is_none(), "already sent from the buffer");
        assert!(s.live(&ev(4)).unwrap().starts_with("event: motion\nid: 4\ndata: "));
    }

    #[test]
    fn a_client_from_before_a_restart_is_told_and_gets_the_new_boot() {
        let mut log = crate::event_log::EventLog::with_capacity(8);
        log.push(ev(0));
        log.push(ev(0));
        let (mut s, first) = EventStream::open(Some(57), log.since(57), None);
        assert_eq!(first[0], "event: restart\nid: 0\ndata: {\"last_id\":57}\n\n");
        assert!(first[1].starts_with("event: motion\nid: 1\n") && first[2].starts_with("event: motion\nid: 2\n"));
        assert!(s.live(&ev(3)).is_some(), "live events of the new boot flow");
        // An up-to-date client is not a restart.
        assert!(!log.since(2).restarted && log.since(2).events.is_empty());
    }

    #[test]
    fn a_gap_comes_first() {
        let (_, first) =
            EventStream::open(Some(1), Resume { events: alloc::vec![ev(4)], gap: Some(4), restarted: false }, None);
        assert_eq!(first[0], "event: gap\nid: 3\ndata: {\"missed_from\":2,\"first\":4}\n\n");
    }
}
