//! The harness's ledger of the SSE stream: which `motion` events the
//! target acked (the `id` in each `POST /hil/frame` reply) against which
//! the stream delivered, and the stream's rules (`docs/protocol.md`,
//! "`GET /events`", "Reboots"):
//!
//! - every event has an `id`; within a boot the `seq` of `<boot>-<seq>`
//!   increases;
//! - the first event of each connection carries `retry:`;
//! - a connection opened without `Last-Event-ID` starts with a `hello`
//!   event giving the client its place, and only such a connection gets
//!   one (one that sent `Last-Event-ID` and is greeted as new was
//!   forgotten). Acked events up to the `hello`'s id are before the
//!   client's place: not awaited on that connection;
//! - the boot changes only through a `restart` event with id `<boot>-0`,
//!   whose boot is new. Ids that move to another boot without one are a
//!   reboot the cam did not announce, and break the rules.
//!
//! An acked event is *awaited* until it arrives. It is *lost* when the
//! stream has moved on to a later boot without it: the cam rebooted before
//! sending it, and will never send it.
//!
//! Cams that predate boot ids (bare numeric ids, acks without `id`) are
//! judged the old way: ids increase, and as many events arrive as frames
//! were acked as motion.

use std::collections::HashSet;

use cam_core::event_log::{EventId, LastEventId};
use cam_core::protocol::{FrameReply, parse_last_event_id};

use crate::outcome::{Failure, FailureKind};

/// A `restart` event as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    /// Its `id:` (`<new boot>-0`).
    pub id: String,
    /// Its `data:`.
    pub data: String,
}

/// What the harness knows of one scenario's SSE stream and acks.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Acked `motion` events with an id.
    acked: usize,
    /// Acked events with an id that have not arrived, in ack order (short:
    /// events usually arrive right after their ack).
    outstanding: Vec<EventId>,
    /// Events that arrived before their ack.
    early: HashSet<EventId>,
    /// Acked `motion` events without an id (cams that predate it).
    acked_unnamed: usize,
    /// `motion` events received, with or without a usable id.
    motion_received: usize,
    /// `motion` events received without a `<boot>-<seq>` id (a broken or
    /// older cam): each stands for the oldest awaited id, so the wait ends
    /// and the rules report the missing id.
    motion_unnamed: usize,
    /// Boots in the order acks first named them.
    ack_boots: Vec<u32>,
    /// The boot of the stream's latest id.
    stream_boot: Option<u32>,
    /// The `seq` (or bare number) of the stream's latest id.
    last_seq: Option<u64>,
    /// The stream's latest id as sent, for `Last-Event-ID`.
    last_id: Option<String>,
    /// Set on every (re)connection until its first event arrives.
    awaiting_first_event: bool,
    /// The `Last-Event-ID` the latest connection sent.
    resumed_from: Option<String>,
    /// Acked events that were before the place a `hello` gave a
    /// connection opened without `Last-Event-ID`.
    passed_over: Vec<EventId>,
    connections: usize,
    violations: Vec<String>,
    restarts: Vec<Restart>,
    /// Restarts an `expect_restart` step has accounted for.
    restarts_expected: usize,
    /// Lost events an `expect_restart` step has accepted.
    lost_accepted: HashSet<EventId>,
    /// Acked events a `gap` event announced lost: they left the cam's
    /// buffer while the client was away.
    gapped: Vec<EventId>,
}

impl Ledger {
    /// A connection to `GET /events` opened with this `Content-Type`,
    /// having sent `last_event_id` (`None`: no `Last-Event-ID`).
    pub fn on_connect(&mut self, content_type: &str, last_event_id: Option<&str>) {
        self.connections += 1;
        self.awaiting_first_event = true;
        self.resumed_from = last_event_id.map(str::to_string);
        if !is_event_stream(content_type) {
            self.violations.push(format!(
                "connection {} answered with Content-Type {content_type:?}, not text/event-stream",
                self.connections
            ));
        }
    }

    /// How many connections to `GET /events` opened so far.
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// A frame reply arrived.
    pub fn on_ack(&mut self, reply: &FrameReply) {
        if !reply.motion {
            return;
        }
        match reply.id.as_deref().and_then(EventId::parse) {
            Some(id) => {
                if !self.ack_boots.contains(&id.boot) {
                    self.ack_boots.push(id.boot);
                }
                self.acked += 1;
                if !self.early.remove(&id) {
                    self.outstanding.push(id);
                }
            }
            None => self.acked_unnamed += 1,
        }
    }

    /// An SSE event arrived: checks the rules and books it.
    pub fn on_event(&mut self, name: &str, id: Option<&str>, retry: Option<u64>, data: &str) {
        let first = std::mem::take(&mut self.awaiting_first_event);
        if first && retry.is_none() {
            self.violations.push(format!("first event of connection {} has no `retry:`", self.connections));
        }
        let tagged = id.and_then(EventId::parse).is_some();
        match (&self.resumed_from, name == "hello") {
            // A tagged `hello` is judged with the events it skipped.
            (Some(from), true) if !tagged => self.violations.push(format!(
                "`hello` event on connection {}, which sent Last-Event-ID {from}: the cam greeted the client as new and forgot its place",
                self.connections
            )),
            (None, true) if !first => self.violations.push(format!(
                "a second `hello` event on connection {}: only a new connection's first event is one",
                self.connections
            )),
            // Cams that predate boot ids predate `hello` too.
            (None, false) if first && tagged => self.violations.push(format!(
                "connection {} sent no Last-Event-ID and its first event is `{name}`, not `hello`: the client was not told its place, so a cut before its first event would lose events",
                self.connections
            )),
            _ => {}
        }
        if name == "motion" {
            self.motion_received += 1;
            if id.is_none_or(|t| EventId::parse(t).is_none()) {
                self.motion_unnamed += 1;
            }
        }
        let Some(text) = id else {
            self.violations.push(format!("`{name}` event without `id:`"));
            return;
        };
        match parse_last_event_id(Some(text)) {
            Ok(Some(LastEventId::Id(id))) => self.on_tagged(name, id, data),
            Ok(Some(LastEventId::Seq(n))) => {
                match self.last_seq {
                    Some(prev) if n <= prev && !(name == "restart" && n == 0) => {
                        self.violations.push(format!("`{name}` event id {n} does not increase (previous {prev})"))
                    }
                    _ => {}
                }
                self.last_seq = Some(n);
            }
            _ => self
                .violations
                .push(format!("`{name}` event with an id that is neither <boot>-<seq> nor a number: {text:?}")),
        }
        self.last_id = Some(text.to_string());
    }

    fn on_tagged(&mut self, name: &str, id: EventId, data: &str) {
        if name == "gap" {
            let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            match (v["missed_from"].as_u64(), v["first"].as_u64()) {
                (Some(from), Some(first)) if from < first => {
                    let missed = |x: &EventId| x.boot == id.boot && (from..first).contains(&x.seq);
                    self.gapped.extend(self.outstanding.iter().copied().filter(missed));
                    self.outstanding.retain(|x| !missed(x));
                }
                _ => self.violations.push(format!("`gap` event id {id} without `missed_from` < `first`: {data}")),
            }
        }
        if name == "hello" {
            // A new client's place: the boot may be new to the ledger (the
            // client never named one), and acked events up to it are not
            // this connection's to send.
            if let (Some(boot), Some(prev)) = (self.stream_boot, self.last_seq)
                && boot == id.boot
                && id.seq < prev
            {
                self.violations.push(format!(
                    "`hello` event id {id} is behind the stream's latest id {}",
                    EventId { boot, seq: prev }
                ));
            }
            let rank = |b: u32| self.ack_boots.iter().position(|&x| x == b).unwrap_or(usize::MAX);
            let place = rank(id.boot);
            let before = |x: &EventId| if x.boot == id.boot { x.seq <= id.seq } else { rank(x.boot) < place };
            let (passed, kept): (Vec<EventId>, Vec<EventId>) = self.outstanding.iter().partition(|x| before(x));
            if let Some(from) = &self.resumed_from {
                let skipped = if passed.is_empty() { String::new() } else { format!(": {}", list_ids(&passed)) };
                self.violations.push(format!(
                    "`hello` event {id} on connection {}, which sent Last-Event-ID {from}: the cam greeted the client as new and forgot its place{skipped}",
                    self.connections
                ));
            }
            self.passed_over.extend(passed);
            self.outstanding = kept;
            let same_boot = self.stream_boot == Some(id.boot);
            self.last_seq = Some(match self.last_seq {
                Some(prev) if same_boot => prev.max(id.seq),
                _ => id.seq,
            });
            self.stream_boot = Some(id.boot);
            return;
        }
        if name == "restart" {
            if id.seq != 0 {
                self.violations.push(format!("`restart` event id {id} does not end in -0"));
            }
            if self.stream_boot == Some(id.boot) {
                self.violations.push(format!("`restart` event id {id} names the boot the stream was already in"));
            }
            self.restarts.push(Restart { id: id.to_string(), data: data.to_string() });
        } else {
            match (self.stream_boot, self.last_seq) {
                (Some(boot), _) if boot != id.boot => self.violations.push(format!(
                    "`{name}` event id {id} is from boot {:08x}, the stream was in boot {boot:08x}, and no `restart` event came between: a reboot the cam did not announce",
                    id.boot
                )),
                (_, Some(prev)) if id.seq <= prev => self.violations.push(format!(
                    "`{name}` event id {id} does not increase (previous {})",
                    EventId { boot: id.boot, seq: prev }
                )),
                _ => {}
            }
            if name == "motion" {
                match self.outstanding.iter().position(|x| *x == id) {
                    Some(i) => {
                        self.outstanding.remove(i);
                    }
                    None => {
                        self.early.insert(id);
                    }
                }
            }
        }
        self.stream_boot = Some(id.boot);
        self.last_seq = Some(id.seq);
    }

    /// The latest id received, for `Last-Event-ID`.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Whether some acked event can still arrive and has not.
    pub fn awaiting(&self) -> bool {
        self.outstanding.iter().filter(|id| !self.is_past(id.boot)).count() > self.motion_unnamed
            || (self.acked_unnamed > 0 && self.motion_received < self.acked_unnamed + self.acked)
    }

    /// Acked events, with an id, that have not arrived and can still.
    pub fn awaited(&self) -> Vec<EventId> {
        self.outstanding.iter().copied().filter(|id| !self.is_past(id.boot)).collect()
    }

    /// Acked events that will never arrive: the stream moved on to a later
    /// boot without them.
    pub fn lost(&self) -> Vec<EventId> {
        self.outstanding.iter().copied().filter(|id| self.is_past(id.boot)).collect()
    }

    /// Whether the stream is in a boot later than `boot`.
    fn is_past(&self, boot: u32) -> bool {
        let Some(now) = self.stream_boot.filter(|&b| b != boot) else {
            return false;
        };
        let rank = |b: u32| self.ack_boots.iter().position(|&x| x == b).unwrap_or(usize::MAX);
        rank(boot) < rank(now)
    }

    /// Acked events a connection opened without `Last-Event-ID` was not
    /// owed: they were before the place its `hello` event gave it.
    pub fn passed_over(&self) -> &[EventId] {
        &self.passed_over
    }

    /// `motion` events acked so far, and received so far.
    pub fn counts(&self) -> (usize, usize) {
        (self.acked + self.acked_unnamed, self.motion_received)
    }

    /// Restarts received so far.
    pub fn restarts(&self) -> &[Restart] {
        &self.restarts
    }

    /// What breaks the rules: SSE rules broken, reboots no step expected,
    /// events lost in a reboot no step accepted.
    ///
    /// # Errors
    /// The first of these: [`FailureKind::SseRules`] for broken rules and
    /// lost events, [`FailureKind::Rebooted`] for a reboot no step expected.
    pub fn check(&self) -> Result<(), Failure> {
        if !self.violations.is_empty() {
            return Err(Failure::sse_rules(format!("SSE rules broken: {}", self.violations.join("; "))));
        }
        if let Some(r) = self.restarts.get(self.restarts_expected) {
            return Err(Failure::new(
                FailureKind::Rebooted,
                format!(
                    "the cam rebooted: `restart` event id {} {} (add an `expect_restart` step where the scenario expects a reboot)",
                    r.id, r.data
                ),
            ));
        }
        let lost: Vec<EventId> = self.lost().into_iter().filter(|id| !self.lost_accepted.contains(id)).collect();
        if !lost.is_empty() {
            return Err(Failure::sse_rules(format!("{}, lost in a reboot", list_ids(&lost))));
        }
        if !self.gapped.is_empty() {
            return Err(Failure::sse_rules(format!(
                "{}: the cam announced them lost with a `gap` event (they left its buffer while the client was away)",
                list_ids(&self.gapped)
            )));
        }
        Ok(())
    }

    /// An `expect_restart` step: accounts for every restart received, and
    /// accepts up to `max_lost` events lost in them.
    ///
    /// # Errors
    /// No restart since the last such step (a mismatch), or more events
    /// lost ([`FailureKind::SseRules`]).
    pub fn expect_restart(&mut self, max_lost: usize) -> Result<(), Failure> {
        if self.restarts.len() == self.restarts_expected {
            return Err(Failure::differs(
                "the SSE stream",
                "restart events",
                "one",
                "none: the stream shows no reboot",
            ));
        }
        self.restarts_expected = self.restarts.len();
        let lost: Vec<EventId> = self.lost().into_iter().filter(|id| !self.lost_accepted.contains(id)).collect();
        if lost.len() > max_lost {
            return Err(Failure::sse_rules(format!("{} in the reboot (at most {max_lost} may be)", list_ids(&lost))));
        }
        self.lost_accepted.extend(lost);
        Ok(())
    }

    /// Whether a restart has arrived that no `expect_restart` step took.
    pub fn restart_pending(&self) -> bool {
        self.restarts.len() > self.restarts_expected
    }
}

/// Whether a `Content-Type` is `text/event-stream` (parameters allowed).
pub fn is_event_stream(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// `3 acked motion event(s) never arrived: ids a-1, a-2, a-3`.
fn list_ids(ids: &[EventId]) -> String {
    let shown: Vec<String> = ids.iter().take(8).map(EventId::to_string).collect();
    let more = if ids.len() > 8 { format!(", … and {} more", ids.len() - 8) } else { String::new() };
    format!("{} acked motion event(s) never arrived: ids {}{more}", ids.len(), shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(id: &str) -> FrameReply {
        FrameReply { frame: 1, change: 0.5, motion: true, id: Some(id.into()) }
    }

    fn motion(l: &mut Ledger, id: &str) {
        l.on_event("motion", Some(id), Some(1000), "{}");
    }

    /// A connection without `Last-Event-ID`, greeted with `hello` id `place`.
    fn fresh(l: &mut Ledger, place: &str) {
        l.on_connect("text/event-stream", None);
        l.on_event("hello", Some(place), Some(1000), "{}");
    }

    #[test]
    fn acked_events_are_awaited_until_they_arrive() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-0");
        l.on_ack(&ack("a-1"));
        l.on_ack(&ack("a-2"));
        motion(&mut l, "a-1");
        assert_eq!(l.awaited(), [EventId { boot: 0xa, seq: 2 }]);
        motion(&mut l, "a-2");
        assert!(!l.awaiting() && l.check().is_ok());
    }

    #[test]
    fn a_reboot_must_be_announced_and_expected() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-0");
        for id in ["a-1", "a-2", "a-3"] {
            l.on_ack(&ack(id));
        }
        motion(&mut l, "a-1");
        // The cam reboots before a-2 and a-3 leave it.
        l.on_ack(&ack("b-1"));
        assert_eq!(l.awaited().len(), 3, "the stream is still in boot a: a-2, a-3 can come");
        l.on_connect("text/event-stream", Some("a-1"));
        l.on_event("restart", Some("b-0"), Some(1000), r#"{"last_id":"a-1"}"#);
        motion(&mut l, "b-1");
        assert!(!l.awaiting());
        assert_eq!(l.lost().len(), 2);
        let err = l.check().unwrap_err();
        assert_eq!(err.kind, crate::outcome::FailureKind::Rebooted);
        let err = err.message;
        assert!(err.contains("the cam rebooted: `restart` event id 0000000b-0"), "{err}");
        let mut accepting = l.clone();
        assert!(accepting.expect_restart(2).is_ok() && accepting.check().is_ok());
        assert!(accepting.expect_restart(2).unwrap_err().message.contains("no reboot"), "each restart once");
        assert!(l.expect_restart(1).unwrap_err().message.contains("2 acked motion event(s) never arrived"));
        assert!(l.check().unwrap_err().message.contains("lost in a reboot"));
    }

    #[test]
    fn events_a_gap_announces_lost_are_not_awaited_and_are_named() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-0");
        for id in ["a-1", "a-2", "a-3", "a-4"] {
            l.on_ack(&ack(id));
        }
        l.on_event("motion", Some("a-1"), None, "{}");
        l.on_connect("text/event-stream", Some("a-1"));
        l.on_event("gap", Some("a-3"), Some(1000), r#"{"missed_from":2,"first":4}"#);
        l.on_event("motion", Some("a-4"), None, "{}");
        assert!(!l.awaiting(), "the lost ones are not waited for");
        let err = l.check().unwrap_err();
        assert_eq!(err.kind, crate::outcome::FailureKind::SseRules);
        assert!(err.message.starts_with("2 acked motion event(s) never arrived: ids 0000000a-2, 0000000a-3: the cam announced them lost with a `gap` event"), "{err}");
    }

    #[test]
    fn an_unannounced_reboot_breaks_the_rules() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-4");
        motion(&mut l, "a-5");
        motion(&mut l, "b-1");
        assert!(l.check().unwrap_err().message.contains("a reboot the cam did not announce"));
    }

    #[test]
    fn ids_must_increase_within_a_boot_and_restarts_end_in_zero() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-4");
        motion(&mut l, "a-5");
        motion(&mut l, "a-5");
        l.on_event("restart", Some("b-3"), None, "{}");
        let err = l.check().unwrap_err();
        assert_eq!(err.kind, crate::outcome::FailureKind::SseRules);
        let err = err.message;
        assert!(err.contains("a-5 does not increase") || err.contains("0000000a-5 does not increase"), "{err}");
        assert!(err.contains("does not end in -0"), "{err}");
    }

    #[test]
    fn bare_numeric_ids_are_judged_by_count() {
        let mut l = Ledger::default();
        // Cams that predate boot ids predate `hello` too.
        l.on_connect("text/event-stream", None);
        l.on_ack(&FrameReply { frame: 1, change: 0.5, motion: true, id: None });
        assert!(l.awaiting());
        motion(&mut l, "7");
        assert!(!l.awaiting() && l.check().is_ok());
        assert_eq!(l.last_id(), Some("7"));
    }

    #[test]
    fn a_new_connection_is_told_its_place_and_only_a_new_one() {
        let mut l = Ledger::default();
        l.on_connect("text/event-stream", None);
        motion(&mut l, "a-1");
        let err = l.check().unwrap_err().message;
        assert!(
            err.contains("connection 1 sent no Last-Event-ID and its first event is `motion`, not `hello`"),
            "{err}"
        );

        let mut l = Ledger::default();
        fresh(&mut l, "a-0");
        l.on_ack(&ack("a-1"));
        l.on_connect("text/event-stream", Some("a-0"));
        l.on_event("hello", Some("a-3"), Some(1000), "{}");
        let err = l.check().unwrap_err().message;
        assert!(
            err.ends_with("`hello` event 0000000a-3 on connection 2, which sent Last-Event-ID a-0: the cam greeted the client as new and forgot its place: 1 acked motion event(s) never arrived: ids 0000000a-1"),
            "{err}"
        );
    }

    #[test]
    fn acked_events_before_a_new_connections_place_are_not_its_own() {
        let mut l = Ledger::default();
        fresh(&mut l, "a-0");
        for id in ["a-1", "a-2", "a-3", "a-4"] {
            l.on_ack(&ack(id));
        }
        motion(&mut l, "a-1");
        // An `sse_connect = { resume = false }`: the cam's place is a-3,
        // and a-4 was acked before the hello was read.
        fresh(&mut l, "a-3");
        assert_eq!(l.passed_over(), [EventId { boot: 0xa, seq: 2 }, EventId { boot: 0xa, seq: 3 }]);
        assert_eq!(l.awaited(), [EventId { boot: 0xa, seq: 4 }]);
        motion(&mut l, "a-4");
        assert!(!l.awaiting() && l.check().is_ok());
        // A place behind what the stream already delivered is wrong.
        fresh(&mut l, "a-2");
        assert!(
            l.check()
                .unwrap_err()
                .message
                .contains("`hello` event id 0000000a-2 is behind the stream's latest id 0000000a-4")
        );
    }
}
