//! The simulator's shared state: one [`Cam`] from the core, and the
//! broadcast channel that carries its motion events to SSE clients.
//!
//! Every frame, from `POST /hil/frame` or the fixture capture loop, goes
//! through [`Shared::process_frame`]: detector, event log and publish happen
//! under one lock, so the order of ids in the log and on every stream is
//! the same.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use cam_core::event_log::Resume;
use cam_core::{Ack, Cam, Command, FrameError, FrameOutcome, MotionEvent};
use tokio::sync::broadcast;

use crate::config::{Fault, SimConfig};
use crate::console::Console;
use crate::storage::DirStorage;

/// State shared by every route and the capture loop.
#[derive(Debug)]
pub struct Shared {
    cam: Mutex<Cam>,
    events: broadcast::Sender<MotionEvent>,
    storage: DirStorage,
    /// The serial console.
    pub console: Console,
    /// The settings the simulator was started with.
    pub config: SimConfig,
    /// The fault plan's generator, seeded with its seed.
    plan_rng: Mutex<rand::rngs::StdRng>,
    /// Frames processed since start (for `reboot_after_frames`).
    frames_total: std::sync::atomic::AtomicU64,
    /// Boot number: SSE connections end when it changes (a reboot).
    boot: tokio::sync::watch::Sender<u64>,
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
            cam: Mutex::new(Cam::new(config.detector, config.event_buffer)),
            events,
            storage: DirStorage::new(&config.snapshot_dir),
            console,
            plan_rng: Mutex::new(rand::SeedableRng::seed_from_u64(config.fault_plan.seed)),
            frames_total: std::sync::atomic::AtomicU64::new(0),
            boot: tokio::sync::watch::Sender::new(0),
            config,
        })
    }

    /// One draw of the fault plan: true with probability `chance` (never
    /// for 0, always for 1).
    pub fn plan_roll(&self, chance: f64) -> bool {
        use rand::RngExt;
        chance > 0.0 && self.plan_rng.lock().unwrap_or_else(|p| p.into_inner()).random_bool(chance.min(1.0))
    }

    fn cam(&self) -> MutexGuard<'_, Cam> {
        // A panic while holding the lock cannot leave the cam half-updated
        // in a way later frames care about; keep serving.
        self.cam.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one frame (JPEG bytes, capture time in ms since the Unix epoch)
    /// through the cam and publishes its motion event, if any.
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
            let _ = self.events.send(event.clone());
        }
        let total = self.frames_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if self.config.fault_plan.reboot_after_frames == Some(total) {
            // Fault plan: a reboot. Everything the cam knew is gone.
            *cam = Cam::new(self.config.detector, self.config.event_buffer);
            self.boot.send_modify(|b| *b += 1);
            self.console.line("cam-fw: fault plan: reboot");
            tracing::debug!(after_frames = total, "fault plan: reboot");
        }
        Ok(outcome)
    }

    /// Changes at every reboot (fault plan): an SSE connection ends then.
    pub fn boots(&self) -> tokio::sync::watch::Receiver<u64> {
        self.boot.subscribe()
    }

    /// A receiver of live events plus what a client resuming after
    /// `last_id` must be sent first (nothing when `last_id` is `None`).
    /// Taken under the cam lock, so no event is missed or sent twice
    /// between the two.
    pub fn subscribe(&self, last_id: Option<u64>) -> (broadcast::Receiver<MotionEvent>, Resume) {
        let cam = self.cam();
        let rx = self.events.subscribe();
        let resume = match last_id {
            Some(id) => cam.log().since(id),
            None => Resume { events: Vec::new(), gap: None, restarted: false },
        };
        (rx, resume)
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
            Ok(Command::SetThreshold(Some(x))) if faults.has(Fault::AcceptAnyThreshold) => {
                cam.set_threshold_unchecked(x);
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
