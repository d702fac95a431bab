//! The simulator's shared state: one [`Cam`] from the core, the broadcast
//! channel that carries its motion events to SSE clients, and its reboots
//! ([`Shared::reboot`], what a reset line does to a board).
//!
//! Every frame, from `POST /hil/frame` or the fixture capture loop, goes
//! through [`Shared::ingest`]: detector, event log and publish happen under
//! one lock, so the order of ids in the log and on every stream is the
//! same.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use cam_core::event_log::{LastEventId, Resume};
use cam_core::{Ack, Cam, Command, FrameError, FrameOutcome, MotionEvent};
use tokio::sync::broadcast;

use crate::config::{Fault, SimConfig};
use crate::console::Console;
use crate::storage::DirStorage;

/// State shared by every route and the capture loop.
#[derive(Debug)]
pub struct Shared {
    cam: Mutex<Cam>,
    /// Replaced at a reboot: the old boot's streams drain it, then end.
    events: Mutex<broadcast::Sender<MotionEvent>>,
    storage: DirStorage,
    /// The serial console.
    pub console: Console,
    /// The settings the simulator was started with.
    pub config: SimConfig,
    /// Reboots so far: WebSocket connections end when it changes.
    reboots: tokio::sync::watch::Sender<u64>,
    /// The URL its `listening on` line names, once it listens.
    pub url: std::sync::OnceLock<String>,
}

impl Shared {
    /// A fresh cam for `config`.
    pub fn new(config: SimConfig) -> Arc<Self> {
        Self::with_console(config, Console::none())
    }

    /// A fresh cam for `config` printing on `console`.
    pub fn with_console(config: SimConfig, console: Console) -> Arc<Self> {
        let (events, _) = broadcast::channel(config.client_queue.max(1));
        Arc::new(Self {
            cam: Mutex::new(Cam::new(config.detector, config.event_buffer, rand::random())),
            events: Mutex::new(events),
            storage: DirStorage::new(&config.snapshot_dir),
            console,
            reboots: tokio::sync::watch::Sender::new(0),
            url: std::sync::OnceLock::new(),
            config,
        })
    }

    fn cam(&self) -> MutexGuard<'_, Cam> {
        // A panic while holding the lock cannot leave the cam half-updated
        // in a way later frames care about; keep serving.
        self.cam.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one frame (JPEG bytes, capture time in ms since the Unix epoch)
    /// through the cam on the blocking pool (decoding a VGA frame takes
    /// about a millisecond) and publishes its motion event, if any.
    ///
    /// # Errors
    /// `Ok(Err(FrameError))` for an undecodable frame (nothing changes);
    /// `Err` if the blocking task failed.
    pub async fn ingest(
        self: &Arc<Self>,
        jpeg: Vec<u8>,
        ts_ms: u64,
    ) -> Result<Result<FrameOutcome, FrameError>, tokio::task::JoinError> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || shared.process_frame(jpeg, ts_ms)).await
    }

    /// This boot's number, the first half of every SSE id.
    pub fn boot(&self) -> u32 {
        self.cam().log().boot()
    }

    /// [`Shared::ingest`] without the blocking pool.
    ///
    /// # Errors
    /// [`FrameError`] for an undecodable frame; nothing changes then.
    pub fn process_frame(&self, jpeg: Vec<u8>, ts_ms: u64) -> Result<FrameOutcome, FrameError> {
        let mut cam = self.cam();
        if self.config.faults.has(Fault::AlwaysMotion) {
            cam.set_threshold_unchecked(-1.0);
        }
        let outcome = match cam.process_frame(jpeg, ts_ms) {
            Ok(o) => o,
            Err(e) => {
                self.console.line(format!("cam-fw: frame refused: {e}"));
                return Err(e);
            }
        };
        if let Some(e) = &outcome.event {
            self.console
                .line(format!("cam-fw: motion id={} frame={} change={:.4} count={}", e.id, e.frame, e.change, e.count));
        }
        if self.config.faults.has(Fault::ConsolePanic) && outcome.frame == 5 {
            for line in crate::console::panic_report("fault injection: console-panic") {
                self.console.line(line);
            }
        }
        if let Some(event) = outcome.event.as_ref().filter(|_| !self.config.faults.has(Fault::DropEvents)) {
            // No receivers is fine: the event stays in the log for resume.
            let _ = self.events.lock().unwrap_or_else(|p| p.into_inner()).send(event.clone());
        }
        Ok(outcome)
    }

    /// The simulator's own reboot, what a board's reset line does: everything
    /// the cam knew is gone, its ids start again under a new boot number,
    /// and every connection drops: SSE streams once they have sent the old
    /// boot's events already published (as a board's TCP stack sends what it
    /// had accepted), WebSocket connections at once and without a close
    /// frame. The console prints the boot log again, up to its `listening
    /// on` line for `url`.
    pub fn reboot(&self, url: &str) {
        let mut cam = self.cam();
        let old = cam.log().boot();
        let boot = loop {
            let drawn: u32 = rand::random();
            if drawn != old {
                break drawn;
            }
        };
        *cam = Cam::new(self.config.detector, self.config.event_buffer, boot);
        // Dropping the old sender ends every old stream after its backlog.
        *self.events.lock().unwrap_or_else(|p| p.into_inner()) = broadcast::channel(self.config.client_queue.max(1)).0;
        self.reboots.send_modify(|n| *n += 1);
        drop(cam);
        for line in crate::console::boot_log(url, "cam-sim", boot) {
            self.console.line(line);
        }
        tracing::debug!(old = format!("{old:08x}"), boot = format!("{boot:08x}"), "reboot");
    }

    /// Changes at every reboot: a WebSocket connection ends then.
    pub fn reboots(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reboots.subscribe()
    }

    /// A receiver of live events plus what a client that sent `last`
    /// (`Last-Event-ID`) must be sent first (nothing for `None`). Taken
    /// under the cam lock, so no event is missed or sent twice between the
    /// two.
    pub fn subscribe(&self, last: Option<LastEventId>) -> (broadcast::Receiver<MotionEvent>, Resume) {
        let cam = self.cam();
        let rx = self.events.lock().unwrap_or_else(|p| p.into_inner()).subscribe();
        (rx, cam.log().since(last))
    }

    /// Applies one WebSocket text frame; the ack to send back.
    pub fn handle_text(&self, text: &str) -> Ack {
        let mut storage = self.storage.clone();
        let mut cam = self.cam();
        let faults = &self.config.faults;
        match Command::parse(text) {
            Ok(Command::Reset) if faults.has(Fault::ResetKeepsCount) => {
                Ack::CountersReset { ok: true, counters: "reset" }
            }
            // The break is in the answer: an out-of-range value is acked
            // (and not set).
            Ok(Command::SetThreshold(Some(x)))
                if faults.has(Fault::AcceptAnyThreshold) && !(0.0..=1.0).contains(&x) =>
            {
                Ack::Threshold { ok: true, threshold: x }
            }
            Ok(cmd) => cam.apply(cmd, unix_now_s(), &mut storage),
            Err(e) => Ack::for_parse_error(e),
        }
    }

    /// Runs `f` on the cam (status, latest frame, HIL reset).
    pub fn with_cam<R>(&self, f: impl FnOnce(&mut Cam) -> R) -> R {
        f(&mut self.cam())
    }

    /// The snapshot store.
    pub fn storage(&self) -> &DirStorage {
        &self.storage
    }
}

/// Wall-clock time in ms since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn unix_now_s() -> u64 {
    unix_now_ms() / 1000
}
