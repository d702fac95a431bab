//! Simulator settings (the `cam-sim` flags).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cam_core::DetectorConfig;
use cam_core::protocol::{DEFAULT_KEEPALIVE_S, DEFAULT_RETRY_MS};

/// Everything a [`crate::Simulator`] needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Stands in for `/sdcard`: `/sdcard/snaps/x.jpg` is written to
    /// `DIR/snaps/x.jpg` (default: a fresh directory under the system temp
    /// directory).
    pub snapshot_dir: PathBuf,
    /// Interval of `: keepalive` comments on idle SSE streams (default 15 s).
    pub keepalive: Duration,
    /// `retry:` sent on the first event of each SSE connection, in ms.
    pub retry_ms: u64,
    /// When set, every route but `/` and `/app.js` needs this token.
    pub token: Option<String>,
    /// Events kept for `Last-Event-ID` resume (default 256).
    pub event_buffer: usize,
    /// Events one SSE client may fall behind before it is dropped (it then
    /// resumes with `Last-Event-ID`); default 64.
    pub client_queue: usize,
    /// Detector tuning.
    pub detector: DetectorConfig,
    /// Deliberate protocol breaches, to show that checks fail (none by
    /// default).
    pub faults: Faults,
}

/// Deliberate breaches of `docs/protocol.md`, one behaviour each, so tests
/// can show that the harness notices (`cam-sim --fault NAME`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Motion frames are acked with `"motion": true` but the event is never
    /// sent on `GET /events` (it stays in the log).
    pub drop_events: bool,
    /// SSE events are sent without their `id:` line.
    pub omit_ids: bool,
    /// Every SSE event is sent twice, with the same id.
    pub duplicate_events: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            snapshot_dir: std::env::temp_dir().join(format!("cam-sim-{}", std::process::id())),
            keepalive: Duration::from_secs(DEFAULT_KEEPALIVE_S),
            retry_ms: DEFAULT_RETRY_MS,
            token: None,
            event_buffer: cam_core::event_log::DEFAULT_CAPACITY,
            client_queue: 64,
            detector: DetectorConfig::default(),
            faults: Faults::default(),
        }
    }
}
