//! Where frames come from: the capture side of the cam behind a small
//! trait (a real sensor on the board, a recorded clip in the simulator).
//!
//! Source: seed chapter "Pushing events to the dashboard" (the capture loop
//! feeds the detector task).

use alloc::vec::Vec;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// The JPEG bytes.
    pub jpeg: Vec<u8>,
    /// Capture time, ms since the Unix epoch.
    pub ts_ms: u64,
}

/// A source of JPEG frames. `capture` waits until the next frame is due
/// (the sensor's frame rate, or a clip's recorded timing).
pub trait Camera {
    /// Why a capture failed.
    type Error: core::fmt::Debug;

    /// The next frame, or `Ok(None)` when the source has ended (a clip that
    /// does not loop).
    ///
    /// # Errors
    /// A sensor or bus failure; the capture loop may retry.
    fn capture(&mut self) -> impl core::future::Future<Output = Result<Option<CapturedFrame>, Self::Error>>;
}
