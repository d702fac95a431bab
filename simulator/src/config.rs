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
    /// Serve HTTPS and WSS with this certificate and key (PEM files)
    /// instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Print the firmware's console (boot log, motion lines) on a new
    /// pseudo-terminal ([`crate::Simulator::console_path`]).
    pub console_pty: bool,
    /// Serve without `POST /hil/frame` and `POST /hil/reset` (they answer
    /// 404), like a production firmware build; frames then come only from
    /// a fixture replay (`--fixture`).
    pub no_hil: bool,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// One deliberate breach of `docs/protocol.md` (`cam-sim --fault NAME`),
/// so tests can show that a check fails on a cam that breaks its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Fault {
    /// Motion frames are acked with `"motion": true` but the event is never
    /// sent on `GET /events`.
    DropEvents,
    /// SSE events are sent without their `id:` line.
    OmitIds,
    /// Every SSE event is sent twice, with the same id.
    DuplicateEvents,
    /// No `retry:` field on the first event of a connection.
    NoRetry,
    /// No `: keepalive` comments.
    NoKeepalive,
    /// `Last-Event-ID` is ignored: a reconnecting client gets live events only.
    IgnoreLastEventId,
    /// Every frame counts as motion, whatever the threshold.
    AlwaysMotion,
    /// `reset` acks but keeps the trigger count.
    ResetKeepsCount,
    /// `set_threshold` accepts any number.
    AcceptAnyThreshold,
    /// `GET /status` and `GET /snapshot.jpg` are sent as
    /// `application/octet-stream`.
    WrongContentTypes,
    /// Text that is not JSON closes the WebSocket instead of an error ack.
    CloseOnBadJson,
    /// Binary WebSocket frames get no ack.
    IgnoreBinary,
    /// Oversize or non-UTF-8 messages drop the connection without a close
    /// frame (no 1009 / 1007).
    NoCloseCodes,
    /// An undecodable frame is answered 200 (still not counted).
    BadFrameOk,
    /// `GET /events` does not check the token.
    UnguardedEvents,
    /// A close from the client is not answered (the connection just ends).
    AbruptClose,
    /// A client resuming from before a reboot gets the new boot's events
    /// without the `restart` event.
    NoRestartEvent,
    /// A client without `Last-Event-ID` is not told its place: no `hello`
    /// event, nor the `retry:` it carries.
    NoHello,
    /// The console prints a panic report after the 5th frame (the cam keeps
    /// serving, as if it had rebooted at once).
    ConsolePanic,
}

/// The set of [`Fault`]s a simulator runs with (empty by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(Vec<Fault>);

impl Faults {
    /// Whether `fault` is on.
    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }
}

impl<I: IntoIterator<Item = Fault>> From<I> for Faults {
    fn from(list: I) -> Self {
        Faults(list.into_iter().collect())
    }
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
            tls: None,
            console_pty: false,
            no_hil: false,
        }
    }
}
