//! The cam's state on the device: the core's [`Cam`] behind a mutex, the
//! channel that carries motion events to SSE clients, and the frame source's
//! owner ([`crate::frames`]). Every frame goes through [`process_frame`], as
//! in the simulator's `shared.rs`.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use alloc::vec::Vec;
use cam_core::{Cam, DetectorConfig, FrameError, FrameOutcome, MotionEvent};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::pubsub::PubSubChannel;

use crate::frames::{FrameSource, Handover};
use crate::limits::{CLIENT_QUEUE, EVENT_BUFFER, HIL_HOLD_MS, MAX_SSE_CLIENTS};

/// The cam.
pub static CAM: Mutex<CriticalSectionRawMutex, RefCell<Option<Cam>>> = Mutex::new(RefCell::new(None));

/// Live motion events, one subscriber per SSE client.
pub static EVENTS: PubSubChannel<CriticalSectionRawMutex, MotionEvent, CLIENT_QUEUE, MAX_SSE_CLIENTS, 1> =
    PubSubChannel::new();

/// This boot's number (`docs/protocol.md`, "Reboots"), set by [`init`].
static BOOT: AtomicU32 = AtomicU32::new(0);

static SOURCE: critical_section::Mutex<core::cell::Cell<FrameSource>> =
    critical_section::Mutex::new(core::cell::Cell::new(FrameSource::NEW));

/// Creates the cam; call once at boot with a random `boot` number (from
/// the board's entropy source), so SSE clients can tell a reboot from a
/// resume.
pub async fn init(boot: u32) {
    BOOT.store(boot, Ordering::Relaxed);
    let cam = CAM.lock().await;
    cam.replace(Some(new_cam()));
}

fn new_cam() -> Cam {
    Cam::new(DetectorConfig::default(), EVENT_BUFFER, BOOT.load(Ordering::Relaxed))
}

/// Runs `f` on the cam.
pub async fn with_cam<R>(f: impl FnOnce(&mut Cam) -> R) -> R {
    let guard = CAM.lock().await;
    let mut cell = guard.borrow_mut();
    let cam = cell.get_or_insert_with(new_cam);
    f(cam)
}

/// Ms since boot: the board has no wall clock.
pub fn now_ms() -> u64 {
    embassy_time::Instant::now().as_millis()
}

/// A HIL request (`/hil/frame`, `/hil/reset`): HIL frames own the frame
/// source for [`HIL_HOLD_MS`] more.
pub fn hil_request() {
    let now = now_ms();
    let handover = critical_section::with(|cs| {
        let cell = SOURCE.borrow(cs);
        let mut s = cell.get();
        let h = s.hil_request(now, HIL_HOLD_MS);
        cell.set(s);
        h
    });
    if handover == Some(Handover::ToHil) {
        crate::console::frame_source(true);
    }
}

/// A frame from the board's camera, captured at `ts_ms` (ms since boot):
/// through the detector unless HIL frames own the source, in which case it
/// is dropped and `Ok(None)` returned.
///
/// # Errors
/// An undecodable frame; nothing changes.
pub async fn camera_frame(jpeg: Vec<u8>, ts_ms: u64) -> Result<Option<FrameOutcome>, FrameError> {
    let (admit, handover) = critical_section::with(|cs| {
        let cell = SOURCE.borrow(cs);
        let mut s = cell.get();
        let r = s.camera_frame(now_ms());
        cell.set(s);
        r
    });
    if handover == Some(Handover::ToCamera) {
        crate::console::frame_source(false);
    }
    if !admit {
        return Ok(None);
    }
    process_frame(jpeg, ts_ms).await.map(Some)
}

/// One frame through the detector; its event (if any) is published and
/// printed on the console, and so is what the frame cost in CPU cycles and
/// instructions where the board can count them.
///
/// # Errors
/// An undecodable frame; nothing changes.
pub async fn process_frame(jpeg: Vec<u8>, ts_ms: u64) -> Result<FrameOutcome, FrameError> {
    let guard = CAM.lock().await;
    let mut cell = guard.borrow_mut();
    let cam = cell.get_or_insert_with(new_cam);
    let counters = crate::board().map(|b| b.counters);
    let before = counters.and_then(|c| c());
    let result = cam.process_frame(jpeg, ts_ms);
    let after = counters.and_then(|c| c());
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            crate::console::frame_refused(&e);
            return Err(e);
        }
    };
    if let (Some(b), Some(a)) = (before, after) {
        let instret = a.instret.zip(b.instret).map(|(a, b)| a.wrapping_sub(b));
        crate::console::cost(outcome.frame, a.cycles.wrapping_sub(b.cycles), instret);
    }
    if let Some(e) = &outcome.event {
        crate::console::motion(e);
        // Published under the cam lock: ids reach every stream in order.
        if !cfg!(feature = "break-drop-events") {
            EVENTS.immediate_publisher().publish_immediate(e.clone());
        }
    }
    Ok(outcome)
}
