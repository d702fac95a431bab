//! The cam's state on the device: the core's [`Cam`] behind a mutex, and
//! the channel that carries motion events to SSE clients. Every frame goes
//! through [`process_frame`], as in the simulator's `shared.rs`.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use cam_core::{Cam, DetectorConfig, FrameError, FrameOutcome, MotionEvent};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::pubsub::PubSubChannel;

/// Motion events kept for `Last-Event-ID` resume.
pub const EVENT_BUFFER: usize = 64;
/// Events an SSE client may fall behind before it is disconnected.
pub const CLIENT_QUEUE: usize = 8;
/// SSE clients served at once (each holds one HTTP task).
pub const MAX_SSE_CLIENTS: usize = 2;

/// The cam.
pub static CAM: Mutex<CriticalSectionRawMutex, RefCell<Option<Cam>>> = Mutex::new(RefCell::new(None));

/// Live motion events, one subscriber per SSE client.
pub static EVENTS: PubSubChannel<CriticalSectionRawMutex, MotionEvent, CLIENT_QUEUE, MAX_SSE_CLIENTS, 1> =
    PubSubChannel::new();

/// This boot's number (`docs/protocol.md`, "Reboots"), set by [`init`].
static BOOT: AtomicU32 = AtomicU32::new(0);

/// Creates the cam; call once at boot with a random `boot` number (from
/// the hardware RNG), so SSE clients can tell a reboot from a resume.
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

/// One frame through the detector; its event (if any) is published and
/// printed on the console.
///
/// # Errors
/// An undecodable frame; nothing changes.
#[cfg_attr(not(any(feature = "hil", feature = "arducam")), allow(dead_code))]
pub async fn process_frame(jpeg: alloc::vec::Vec<u8>, ts_ms: u64) -> Result<FrameOutcome, FrameError> {
    let guard = CAM.lock().await;
    let mut cell = guard.borrow_mut();
    let cam = cell.get_or_insert_with(new_cam);
    let outcome = match cam.process_frame(jpeg, ts_ms) {
        Ok(o) => o,
        Err(e) => {
            crate::console::frame_refused(&e);
            return Err(e);
        }
    };
    if let Some(e) = &outcome.event {
        crate::console::motion(e);
        // Published under the cam lock: ids reach every stream in order.
        EVENTS.immediate_publisher().publish_immediate(e.clone());
    }
    Ok(outcome)
}
