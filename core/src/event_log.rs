//! The event log: a bounded ring of motion events with ids that increase
//! for the life of the process, so SSE clients can resume with
//! `Last-Event-ID`.
//!
//! Source: `docs/protocol.md` ("`GET /events`", "`Last-Event-ID`"); seed
//! chapter "Pushing events to the dashboard" (`event_id=` sets `id:`).

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

/// Default number of events the log keeps for resuming clients.
pub const DEFAULT_CAPACITY: usize = 256;

/// One `motion` event, as sent in the SSE `data:` field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotionEvent {
    /// SSE `id`: 1, 2, 3, … for the life of the process (a reset does not
    /// restart it). Not part of the JSON data.
    #[serde(skip)]
    pub id: u64,
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
    /// Buffered events with an id above the client's, oldest first.
    pub events: Vec<MotionEvent>,
    /// `Some(first)` when events after the client's id have already left the
    /// ring: `first` is the oldest id still held (the client missed the ids
    /// in between).
    pub gap: Option<u64>,
    /// The client's id is one this log never issued (at or above its next
    /// id): the cam restarted since the client's last event, its ids began
    /// again at 1, and `events` holds everything since the restart.
    pub restarted: bool,
}

/// Bounded ring of the most recent [`MotionEvent`]s.
#[derive(Debug, Clone)]
pub struct EventLog {
    ring: VecDeque<MotionEvent>,
    capacity: usize,
    next_id: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl EventLog {
    /// An empty log keeping at most `capacity` events (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { ring: VecDeque::with_capacity(capacity), capacity, next_id: 1 }
    }

    /// How many events the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The id of the newest event, 0 before any.
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Appends an event, giving it the next id (its `id` field is
    /// overwritten); the oldest event leaves a full ring. Returns the stored
    /// event.
    pub fn push(&mut self, mut event: MotionEvent) -> &MotionEvent {
        event.id = self.next_id;
        self.next_id += 1;
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(event);
        self.ring.back().expect("just pushed")
    }

    /// Every buffered event with an id above `last_id`, oldest first, and
    /// whether some were already dropped from the ring (see [`Resume`]).
    pub fn since(&self, last_id: u64) -> Resume {
        if last_id >= self.next_id {
            let events: Vec<_> = self.ring.iter().cloned().collect();
            let gap = self.ring.front().map(|e| e.id).filter(|&first| first > 1);
            return Resume { events, gap, restarted: true };
        }
        let events: Vec<_> = self.ring.iter().filter(|e| e.id > last_id).cloned().collect();
        let oldest = self.ring.front().map(|e| e.id);
        let gap = match oldest {
            Some(first) if first > last_id + 1 => Some(first),
            None if self.next_id > last_id + 1 => Some(self.next_id),
            _ => None,
        };
        Resume { events, gap, restarted: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(frame: u64) -> MotionEvent {
        MotionEvent { id: 0, ts: 1.5, count: frame, change: 0.5, frame }
    }

    #[test]
    fn ids_increase_from_one() {
        let mut log = EventLog::with_capacity(4);
        assert_eq!(log.push(ev(1)).id, 1);
        assert_eq!(log.push(ev(2)).id, 2);
        assert_eq!(log.last_id(), 2);
    }

    #[test]
    fn resume_returns_newer_events_in_order() {
        let mut log = EventLog::with_capacity(4);
        for f in 1..=3 {
            log.push(ev(f));
        }
        let r = log.since(1);
        assert_eq!(r.events.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(r.gap, None);
        assert!(log.since(3).events.is_empty());
    }

    #[test]
    fn resume_reports_a_gap_when_the_ring_overflowed() {
        let mut log = EventLog::with_capacity(2);
        for f in 1..=5 {
            log.push(ev(f));
        }
        let r = log.since(1);
        assert_eq!(r.gap, Some(4));
        assert_eq!(r.events.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(log.since(3).gap, None);
    }

    #[test]
    fn data_json_has_the_protocol_fields_only() {
        let e = MotionEvent { id: 9, ts: 1700000000.25, count: 3, change: 0.125, frame: 17 };
        assert_eq!(e.data_json(), r#"{"ts":1700000000.25,"count":3,"change":0.125,"frame":17}"#);
    }
}
