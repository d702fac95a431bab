//! The event log: a bounded ring of motion events with ids that tell a
//! resume from a reboot, so SSE clients can resume with `Last-Event-ID`.
//!
//! An id is `<boot>-<seq>` ([`EventId`]): `boot` is a random number drawn
//! at every boot, `seq` counts 1, 2, 3, … for the life of that boot (a HIL
//! reset does not restart it). A `Last-Event-ID` from another boot means
//! the cam rebooted since the client's last event, however many events the
//! new boot has issued: [`EventLog::since`] says so in
//! [`Resume::restarted`].
//!
//! Source: `docs/protocol.md` ("`GET /events`", "Resume", "Reboots"); seed
//! chapter "Pushing events to the dashboard" (`event_id=` sets `id:`; the
//! microdot SSE reference: the id is an opaque string).

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Serialize;

/// Default number of events the log keeps for resuming clients.
pub const DEFAULT_CAPACITY: usize = 256;

/// The SSE `id` of an event: `<boot>-<seq>` on the wire, `boot` as 8
/// lowercase hex digits and `seq` in decimal, e.g. `3f9a0c12-17`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The boot this id was issued in: random, drawn at every boot (the
    /// firmware's hardware RNG, the simulator's generator).
    pub boot: u32,
    /// 1, 2, 3, … within the boot; 0 is the `restart` event's.
    pub seq: u64,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}-{}", self.boot, self.seq)
    }
}

impl EventId {
    /// Parses `<boot>-<seq>` (1 to 8 hex digits, `-`, a decimal number).
    /// `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (boot, seq) = text.split_once('-')?;
        let hex = !boot.is_empty() && boot.len() <= 8 && boot.bytes().all(|b| b.is_ascii_hexdigit());
        let dec = !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit());
        if !(hex && dec) {
            return None;
        }
        Some(Self { boot: u32::from_str_radix(boot, 16).ok()?, seq: seq.parse().ok()? })
    }
}

/// A client's `Last-Event-ID`, parsed ([`crate::protocol::parse_last_event_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastEventId {
    /// `<boot>-<seq>`, as this protocol issues them.
    Id(EventId),
    /// A bare number: a `seq` of an unknown boot (a client of a cam that
    /// sent numeric ids, or typed by hand). It counts as from before a
    /// reboot only when this boot never issued it (the weaker check ids
    /// without a boot allow).
    Seq(u64),
}

impl fmt::Display for LastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastEventId::Id(id) => id.fmt(f),
            LastEventId::Seq(n) => n.fmt(f),
        }
    }
}

/// One `motion` event, as sent in the SSE `data:` field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotionEvent {
    /// SSE `id` (set by [`EventLog::push`]). Not part of the JSON data.
    #[serde(skip)]
    pub id: EventId,
    /// Capture time of the frame, seconds since the Unix epoch (ms precision).
    pub ts: f64,
    /// Trigger count after this event.
    pub count: u64,
    /// The detector's `change` for the frame, in `[0, 1]`.
    pub change: f64,
    /// Frame sequence number (from 1 after a reset).
    pub frame: u64,
}

impl MotionEvent {
    /// The JSON of the SSE `data:` field:
    /// `{"ts":…,"count":…,"change":…,"frame":…}`.
    pub fn data_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a client resuming after `Last-Event-ID` gets from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// This boot's number (the `boot` of every id the stream sends).
    pub boot: u32,
    /// Buffered events after the client's id, oldest first.
    pub events: Vec<MotionEvent>,
    /// `Some(first)` when events after the client's id have already left the
    /// ring: `first` is the oldest `seq` still held (the client missed the
    /// ones in between).
    pub gap: Option<u64>,
    /// The client's id is from another boot (or, for a bare number, one
    /// this boot never issued): the cam rebooted since the client's last
    /// event, and `events` holds everything of this boot still buffered.
    pub restarted: bool,
    /// The `seq` of this boot's newest event when the client came (0
    /// before any): a client without `Last-Event-ID` is told this place
    /// (the `hello` event, `docs/protocol.md`, "A new client's place").
    pub newest: u64,
}

impl Resume {
    /// What a client without `Last-Event-ID` gets: its place (`newest`,
    /// the seq of this boot's newest event, 0 before any), then live
    /// events only.
    pub fn fresh(boot: u32, newest: u64) -> Self {
        Self { boot, events: Vec::new(), gap: None, restarted: false, newest }
    }
}

/// Bounded ring of the most recent [`MotionEvent`]s of one boot.
#[derive(Debug, Clone)]
pub struct EventLog {
    ring: VecDeque<MotionEvent>,
    capacity: usize,
    boot: u32,
    next_seq: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, 0)
    }
}

impl EventLog {
    /// An empty log for boot number `boot`, keeping at most `capacity`
    /// events (at least 1).
    pub fn new(capacity: usize, boot: u32) -> Self {
        let capacity = capacity.max(1);
        Self { ring: VecDeque::with_capacity(capacity), capacity, boot, next_seq: 1 }
    }

    /// How many events the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// This boot's number.
    pub fn boot(&self) -> u32 {
        self.boot
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> EventId {
        EventId { boot: self.boot, seq: self.next_seq }
    }

    /// The id of the newest event (`seq` 0 before any).
    pub fn last_id(&self) -> EventId {
        EventId { boot: self.boot, seq: self.next_seq - 1 }
    }

    /// Appends an event, giving it the next id (its `id` field is
    /// overwritten); the oldest event leaves a full ring. Returns the stored
    /// event.
    pub fn push(&mut self, mut event: MotionEvent) -> &MotionEvent {
        event.id = self.next_id();
        self.next_seq += 1;
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(event);
        self.ring.back().expect("just pushed")
    }

    /// What a client that sent `last` (`None`: no `Last-Event-ID`) is sent
    /// before live events: every buffered event after its id, oldest first,
    /// whether some were already dropped from the ring, and whether its id
    /// is from before a reboot (see [`Resume`]).
    pub fn since(&self, last: Option<LastEventId>) -> Resume {
        let seq = match last {
            None => return Resume::fresh(self.boot, self.last_id().seq),
            Some(LastEventId::Id(id)) if id.boot != self.boot => return self.since_restart(),
            Some(LastEventId::Id(id)) => id.seq,
            Some(LastEventId::Seq(n)) => n,
        };
        if seq >= self.next_seq {
            // Never issued in this boot: only a reboot explains it.
            return self.since_restart();
        }
        let events: Vec<_> = self.ring.iter().filter(|e| e.id.seq > seq).cloned().collect();
        let gap = match self.ring.front() {
            Some(oldest) if oldest.id.seq > seq + 1 => Some(oldest.id.seq),
            None if self.next_seq > seq + 1 => Some(self.next_seq),
            _ => None,
        };
        Resume { boot: self.boot, events, gap, restarted: false, newest: self.last_id().seq }
    }

    fn since_restart(&self) -> Resume {
        let events: Vec<_> = self.ring.iter().cloned().collect();
        // The ring is empty only before the first event: nothing was missed.
        let gap = self.ring.front().map(|oldest| oldest.id.seq).filter(|&first| first > 1);
        Resume { boot: self.boot, events, gap, restarted: true, newest: self.last_id().seq }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const BOOT: u32 = 0x3f9a_0c12;

    fn ev(frame: u64) -> MotionEvent {
        MotionEvent { id: EventId::default(), ts: 1.5, count: frame, change: 0.5, frame }
    }

    fn id(seq: u64) -> Option<LastEventId> {
        Some(LastEventId::Id(EventId { boot: BOOT, seq }))
    }

    fn seqs(r: &Resume) -> Vec<u64> {
        r.events.iter().map(|e| e.id.seq).collect()
    }

    #[test]
    fn ids_carry_the_boot_and_count_from_one() {
        let mut log = EventLog::new(4, BOOT);
        assert_eq!(log.push(ev(1)).id, EventId { boot: BOOT, seq: 1 });
        assert_eq!(log.push(ev(2)).id.to_string(), "3f9a0c12-2");
        assert_eq!(log.last_id().seq, 2);
        assert_eq!(EventId { boot: 7, seq: 0 }.to_string(), "00000007-0");
    }

    #[test]
    fn ids_read_back() {
        assert_eq!(EventId::parse("3f9a0c12-17"), Some(EventId { boot: BOOT, seq: 17 }));
        assert_eq!(EventId::parse("7-0"), Some(EventId { boot: 7, seq: 0 }));
        for bad in ["", "-", "17", "3f9a0c12-", "-17", "3f9a0c12x-1", "123456789-1", "3f-1-2", "3f-+1", "3f- 1"] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn resume_returns_newer_events_in_order() {
        let mut log = EventLog::new(4, BOOT);
        for f in 1..=3 {
            log.push(ev(f));
        }
        let r = log.since(id(1));
        assert_eq!((seqs(&r), r.gap, r.restarted), (vec![2, 3], None, false));
        assert!(log.since(id(3)).events.is_empty());
        assert_eq!(log.since(None), Resume::fresh(BOOT, 3));
        assert_eq!(EventLog::new(4, BOOT).since(None), Resume::fresh(BOOT, 0));
    }

    #[test]
    fn resume_reports_a_gap_when_the_ring_overflowed() {
        let mut log = EventLog::new(2, BOOT);
        for f in 1..=5 {
            log.push(ev(f));
        }
        let r = log.since(id(1));
        assert_eq!((seqs(&r), r.gap), (vec![4, 5], Some(4)));
        assert_eq!(log.since(id(3)).gap, None);
    }

    #[test]
    fn an_id_of_another_boot_is_a_reboot_however_far_the_new_boot_got() {
        // The case bare numbers cannot tell: the new boot has already issued
        // more events than the client's old id.
        let mut log = EventLog::new(8, BOOT);
        for f in 1..=6 {
            log.push(ev(f));
        }
        let old = Some(LastEventId::Id(EventId { boot: 0x1111, seq: 2 }));
        let r = log.since(old);
        assert_eq!((seqs(&r), r.gap, r.restarted), (vec![1, 2, 3, 4, 5, 6], None, true));
        // A bare number this boot issued looks like a resume: the weaker rule.
        assert!(!log.since(Some(LastEventId::Seq(2))).restarted);
        assert!(log.since(Some(LastEventId::Seq(7))).restarted);
    }

    #[test]
    fn a_reboot_with_a_full_ring_reports_what_left_it() {
        let mut log = EventLog::new(2, BOOT);
        let old = Some(LastEventId::Id(EventId { boot: 1, seq: 9 }));
        assert_eq!(log.since(old).gap, None, "nothing issued yet, nothing missed");
        for f in 1..=5 {
            log.push(ev(f));
        }
        let r = log.since(old);
        assert_eq!((seqs(&r), r.gap, r.restarted), (vec![4, 5], Some(4), true));
    }

    #[test]
    fn data_json_has_the_protocol_fields_only() {
        let e = MotionEvent { id: EventId { boot: 1, seq: 9 }, ts: 1700000000.25, count: 3, change: 0.125, frame: 17 };
        assert_eq!(e.data_json(), r#"{"ts":1700000000.25,"count":3,"change":0.125,"frame":17}"#);
    }
}
