//! One `GET /events` connection, as every target writes it: on connect, a
//! `hello` event giving a client without `Last-Event-ID` its place, or a
//! `restart` event if the client's `Last-Event-ID` is from before the cam
//! rebooted, or a `gap` event if it fell out of the buffer, then the
//! buffered events after it; then live events, skipping those already sent
//! from the buffer; `retry:` on the first event; `: keepalive` comments
//! when idle.
//!
//! Source: `docs/protocol.md` ("`GET /events`", "A new client's place",
//! "Resume", "Reboots").

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::event_log::{EventId, LastEventId, MotionEvent, Resume};
use crate::sse::{self, SseEvent};

/// The state of one SSE connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    /// The boot whose events this connection carries.
    boot: u32,
    /// Events of this boot up to this `seq` were already sent.
    sent_up_to: u64,
    /// `retry:` still to send, in ms (on the first event).
    retry_ms: Option<u64>,
}

impl EventStream {
    /// Opens a connection for a client that sent `last`
    /// (`Last-Event-ID`), given what the event log holds after it
    /// ([`crate::EventLog::since`]). Returns the stream and the blocks to
    /// send before any live event.
    ///
    /// A client without `Last-Event-ID` first gets a `hello` event whose
    /// `id` is this boot's newest (`<boot>-<newest>`, `-0` before any) and
    /// whose data is `{"boot":"<8 hex>","newest":<seq>}`. It has a place
    /// from then on: cut even before its first `motion` event, it resumes
    /// with that id and misses nothing. A named event, not an id-only
    /// block: browsers take either, but clients such as eventsource-client
    /// drop a block without `data:` and would never learn the id.
    pub fn open(last: Option<LastEventId>, resume: Resume, retry_ms: Option<u64>) -> (Self, Vec<String>) {
        let boot = resume.boot;
        let sent_up_to = match last {
            Some(LastEventId::Id(id)) if id.boot == boot => id.seq,
            Some(LastEventId::Seq(n)) => n,
            None => resume.newest,
            _ => 0,
        };
        let mut stream = Self { boot, sent_up_to, retry_ms };
        let mut blocks = Vec::with_capacity(resume.events.len() + 2);
        if last.is_none() {
            let data = format!(r#"{{"boot":"{boot:08x}","newest":{}}}"#, resume.newest);
            blocks.push(stream.block("hello", resume.newest, &data));
        } else if let (true, Some(last)) = (resume.restarted, last) {
            // The cam rebooted: `<boot>-0` makes the client's next
            // Last-Event-ID point before the first event of this boot.
            stream.sent_up_to = 0;
            let data = format!(r#"{{"last_id":"{last}","boot":"{boot:08x}"}}"#);
            blocks.push(stream.block("restart", 0, &data));
            if let Some(first) = resume.gap {
                blocks.push(stream.block("gap", first - 1, &format!(r#"{{"missed_from":1,"first":{first}}}"#)));
            }
        } else if let (Some(first), Some(_)) = (resume.gap, last) {
            // Its id is the last one the client can no longer get, so a
            // client reconnecting right after it resumes at `first`.
            let data = format!(r#"{{"missed_from":{},"first":{first}}}"#, stream.sent_up_to + 1);
            blocks.push(stream.block("gap", first - 1, &data));
        }
        for e in &resume.events {
            stream.sent_up_to = e.id.seq;
            blocks.push(stream.block("motion", e.id.seq, &e.data_json()));
        }
        (stream, blocks)
    }

    /// The block for a live event, or `None` when it was already sent from
    /// the buffer. Events of another boot are not this connection's: a
    /// target ends its streams when it reboots, after the last event of
    /// the old boot.
    pub fn live(&mut self, event: &MotionEvent) -> Option<String> {
        if event.id.boot != self.boot || event.id.seq <= self.sent_up_to {
            return None;
        }
        self.sent_up_to = event.id.seq;
        Some(self.block("motion", event.id.seq, &event.data_json()))
    }

    /// The keep-alive comment, `: keepalive`.
    pub fn keepalive() -> String {
        sse::comment("keepalive")
    }

    fn block(&mut self, event: &str, seq: u64, data: &str) -> String {
        let id = EventId { boot: self.boot, seq }.to_string();
        SseEvent { event: Some(event), id: Some(&id), retry_ms: self.retry_ms.take(), data }.frame()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventLog;

    const BOOT: u32 = 0xb007;

    fn ev(seq: u64) -> MotionEvent {
        MotionEvent { id: EventId { boot: BOOT, seq }, ts: 1.0, count: seq, change: 0.5, frame: seq }
    }

    fn id(boot: u32, seq: u64) -> Option<LastEventId> {
        Some(LastEventId::Id(EventId { boot, seq }))
    }

    #[test]
    fn a_fresh_connection_is_told_its_place_then_sends_live_events() {
        let (mut s, first) = EventStream::open(None, Resume::fresh(BOOT, 0), Some(3000));
        assert_eq!(
            first,
            ["event: hello\nid: 0000b007-0\nretry: 3000\ndata: {\"boot\":\"0000b007\",\"newest\":0}\n\n"]
        );
        assert!(s.live(&ev(1)).unwrap().starts_with("event: motion\nid: 0000b007-1\ndata: "), "retry once");
        assert!(s.live(&ev(2)).unwrap().starts_with("event: motion\nid: 0000b007-2\ndata: "));
    }

    #[test]
    fn a_fresh_connection_mid_boot_starts_after_the_newest_event() {
        let mut log = EventLog::new(8, BOOT);
        for _ in 0..5 {
            log.push(ev(0));
        }
        let (mut s, first) = EventStream::open(None, log.since(None), None);
        assert_eq!(first, ["event: hello\nid: 0000b007-5\ndata: {\"boot\":\"0000b007\",\"newest\":5}\n\n"]);
        assert!(s.live(&ev(5)).is_none(), "from before the client came");
        assert!(s.live(&ev(6)).unwrap().starts_with("event: motion\nid: 0000b007-6\n"));
        // A client cut right after it resumes from the hello's id: nothing
        // between is lost.
        let resumed = log.since(Some(LastEventId::Id(EventId { boot: BOOT, seq: 5 })));
        assert!(!resumed.restarted && resumed.gap.is_none() && resumed.events.is_empty());
    }

    #[test]
    fn a_resume_sends_the_buffer_then_skips_what_it_sent() {
        let resume = Resume { boot: BOOT, events: alloc::vec![ev(2), ev(3)], gap: None, restarted: false, newest: 3 };
        let (mut s, first) = EventStream::open(id(BOOT, 1), resume, Some(3000));
        assert_eq!(first.len(), 2);
        assert!(first[0].starts_with("event: motion\nid: 0000b007-2\nretry: 3000\n"));
        assert!(s.live(&ev(3)).is_none(), "already sent from the buffer");
        assert!(s.live(&ev(4)).unwrap().starts_with("event: motion\nid: 0000b007-4\ndata: "));
    }

    #[test]
    fn a_client_from_before_a_reboot_is_told_and_gets_the_new_boot() {
        let mut log = EventLog::new(8, BOOT);
        for _ in 0..3 {
            log.push(ev(0));
        }
        // The old boot's id 2 is below this boot's newest (3): only the boot
        // tells it apart from a resume.
        let (mut s, first) = EventStream::open(id(0x5eed, 2), log.since(id(0x5eed, 2)), None);
        assert_eq!(
            first[0],
            "event: restart\nid: 0000b007-0\ndata: {\"last_id\":\"00005eed-2\",\"boot\":\"0000b007\"}\n\n"
        );
        let ids: Vec<&str> = first[1..].iter().map(|b| b.lines().nth(1).unwrap()).collect();
        assert_eq!(ids, ["id: 0000b007-1", "id: 0000b007-2", "id: 0000b007-3"]);
        assert!(s.live(&ev(4)).is_some(), "live events of the new boot flow");
        assert!(s.live(&MotionEvent { id: EventId { boot: 1, seq: 9 }, ..ev(9) }).is_none(), "not this boot's");
        // An up-to-date client is not a restart.
        assert!(!log.since(id(BOOT, 3)).restarted && log.since(id(BOOT, 3)).events.is_empty());
    }

    #[test]
    fn a_gap_comes_first() {
        let resume = Resume { boot: BOOT, events: alloc::vec![ev(4)], gap: Some(4), restarted: false, newest: 4 };
        let (_, first) = EventStream::open(id(BOOT, 1), resume, None);
        assert_eq!(first[0], "event: gap\nid: 0000b007-3\ndata: {\"missed_from\":2,\"first\":4}\n\n");
    }

    #[test]
    fn a_bare_numeric_id_resumes_by_seq() {
        let resume = Resume { boot: BOOT, events: alloc::vec![ev(3)], gap: None, restarted: false, newest: 3 };
        let (mut s, first) = EventStream::open(Some(LastEventId::Seq(2)), resume, None);
        assert!(first[0].starts_with("event: motion\nid: 0000b007-3\n"));
        assert!(s.live(&ev(3)).is_none());
    }
}
