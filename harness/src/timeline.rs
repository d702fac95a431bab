//! One timeline per scenario: everything that crossed the wire, in order,
//! with a monotonic timestamp (ms since the scenario started).

use std::fmt;
use std::time::Instant;

/// What kind of traffic an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A frame injected (`POST /hil/frame`) and its reply.
    Frame,
    /// An SSE event, comment, (re)connection or error.
    Sse,
    /// A WebSocket text frame sent (`>`) or received (`<`).
    Ws,
    /// An HTTP request and its status.
    Http,
    /// A line on the board's serial console.
    Console,
    /// A step starting or ending.
    Step,
    /// A fault the harness applied (a cut, a stall, a reset, a bad frame).
    Fault,
}

/// One timeline entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Ms since the scenario started (monotonic clock).
    pub at_ms: f64,
    /// Kind of traffic.
    pub channel: Channel,
    /// What happened, one line.
    pub text: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ch = match self.channel {
            Channel::Frame => "frame",
            Channel::Sse => "sse",
            Channel::Ws => "ws",
            Channel::Http => "http",
            Channel::Console => "uart",
            Channel::Step => "step",
            Channel::Fault => "fault",
        };
        write!(f, "{:>9.1} ms  {ch:<5} {}", self.at_ms, self.text)
    }
}

/// The entries of one scenario run.
#[derive(Debug, Clone)]
pub struct Timeline {
    start: Instant,
    /// In arrival order.
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// An empty timeline starting now.
    pub fn new() -> Self {
        Self { start: Instant::now(), entries: Vec::new() }
    }

    /// Records `text` at `at` (when the traffic was seen).
    pub fn push_at(&mut self, at: Instant, channel: Channel, text: impl Into<String>) {
        let at_ms = at.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        self.entries.push(Entry { at_ms, channel, text: text.into() });
    }

    /// Ms since the scenario started, now.
    pub fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Records `text` now.
    pub fn push(&mut self, channel: Channel, text: impl Into<String>) {
        self.push_at(Instant::now(), channel, text);
    }

    /// The last `n` entries, oldest first (what a failure report shows).
    pub fn tail(&self, n: usize) -> &[Entry] {
        &self.entries[self.entries.len().saturating_sub(n)..]
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}
