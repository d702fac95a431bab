//! The capture loop: one frame per tick at a configured rate, as the core's
//! [`Camera`]. Ticks are fixed in time (tick `n` is at `first + n ×
//! interval`). When a capture (or the detector after it) overruns, the late
//! tick fires at once and the ticks missed meanwhile are skipped (counted in
//! [`CaptureLoop::skipped`]): no burst of catch-up captures, as tokio's
//! `MissedTickBehavior::Skip`. Polling for the capture sleeps on the clock,
//! never a busy wait.
//!
//! Source: seed chapter "Pushing events to the dashboard" (the capture loop
//! feeds the detector task).

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

use cam_core::camera::{Camera, CapturedFrame};
use embedded_hal::i2c::I2c;
use embedded_hal::spi::SpiDevice;

use crate::arducam::{self, ArduCam};

/// Time for the capture loop: the board's timer, or a virtual clock in tests.
pub trait Clock {
    /// Now, in ms: since the Unix epoch when the clock knows the wall time,
    /// else since boot. Frames are stamped with it.
    fn now_ms(&mut self) -> u64;
    /// Returns at `deadline_ms` (at once when it has passed).
    fn sleep_until(&mut self, deadline_ms: u64) -> impl Future<Output = ()>;
}

/// A camera that captures in three steps: start, poll, read.
pub trait FrameSource {
    /// Why a step failed.
    type Error: fmt::Debug;
    /// Starts one capture.
    ///
    /// # Errors
    /// A sensor or bus failure.
    fn start_capture(&mut self) -> Result<(), Self::Error>;
    /// Whether the capture is complete.
    ///
    /// # Errors
    /// A sensor or bus failure.
    fn capture_done(&mut self) -> Result<bool, Self::Error>;
    /// The completed capture's JPEG bytes.
    ///
    /// # Errors
    /// A sensor or bus failure, or a frame that is not one JPEG.
    fn read_frame(&mut self) -> Result<Vec<u8>, Self::Error>;
}

impl<SPI: SpiDevice, I2C: I2c> FrameSource for ArduCam<SPI, I2C> {
    type Error = arducam::Error<SPI::Error, I2C::Error>;

    fn start_capture(&mut self) -> Result<(), Self::Error> {
        ArduCam::start_capture(self)
    }

    fn capture_done(&mut self) -> Result<bool, Self::Error> {
        ArduCam::capture_done(self)
    }

    fn read_frame(&mut self) -> Result<Vec<u8>, Self::Error> {
        ArduCam::read_frame(self)
    }
}

/// Timing of the capture loop, all in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Time between frames (200 ms = 5 frames per second).
    pub interval_ms: u64,
    /// Time between polls for the end of a capture.
    pub poll_ms: u64,
    /// A capture not done after this long is [`CaptureError::Timeout`].
    pub timeout_ms: u64,
}

impl Default for Pacing {
    /// 5 frames per second (the seed's capture rate), polling every 5 ms,
    /// giving up on a capture after 1000 ms.
    fn default() -> Self {
        Pacing { interval_ms: 200, poll_ms: 5, timeout_ms: 1000 }
    }
}

/// Why the capture loop got no frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError<E> {
    /// The source failed.
    Source(E),
    /// The capture was not done after [`Pacing::timeout_ms`].
    Timeout {
        /// How long it waited, in ms.
        waited_ms: u64,
    },
}

impl<E: fmt::Display> fmt::Display for CaptureError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Source(e) => write!(f, "{e}"),
            CaptureError::Timeout { waited_ms } => write!(f, "capture not done after {waited_ms} ms"),
        }
    }
}

/// A [`FrameSource`] paced by a [`Clock`]: the board's [`Camera`].
pub struct CaptureLoop<S, C> {
    source: S,
    clock: C,
    pacing: Pacing,
    next_due_ms: Option<u64>,
    skipped: u64,
}

impl<S: FrameSource, C: Clock> CaptureLoop<S, C> {
    /// A loop whose first frame is due at once.
    pub fn new(source: S, clock: C, pacing: Pacing) -> Self {
        CaptureLoop { source, clock, pacing, next_due_ms: None, skipped: 0 }
    }

    /// Ticks skipped because a capture (or the detector after it) overran.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The source, to reconfigure it between frames.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    async fn capture_one(&mut self) -> Result<CapturedFrame, CaptureError<S::Error>> {
        let now = self.clock.now_ms();
        let due = self.next_due_ms.unwrap_or(now);
        if due > now {
            self.clock.sleep_until(due).await;
        }
        let started = self.clock.now_ms();
        // The next tick after `started`, skipping the ones already past.
        let interval = self.pacing.interval_ms.max(1);
        let missed = started.saturating_sub(due) / interval;
        self.skipped += missed;
        self.next_due_ms = Some(due + (missed + 1) * interval);

        self.source.start_capture().map_err(CaptureError::Source)?;
        loop {
            if self.source.capture_done().map_err(CaptureError::Source)? {
                break;
            }
            let waited_ms = self.clock.now_ms().saturating_sub(started);
            if waited_ms >= self.pacing.timeout_ms {
                return Err(CaptureError::Timeout { waited_ms });
            }
            let next_poll = self.clock.now_ms() + self.pacing.poll_ms.max(1);
            self.clock.sleep_until(next_poll).await;
        }
        let jpeg = self.source.read_frame().map_err(CaptureError::Source)?;
        Ok(CapturedFrame { jpeg, ts_ms: started })
    }
}

impl<S: FrameSource, C: Clock> Camera for CaptureLoop<S, C> {
    type Error = CaptureError<S::Error>;

    /// The next frame at its tick, stamped with the time the capture
    /// started (the capture timestamp). Never `Ok(None)`: a sensor does not
    /// end.
    async fn capture(&mut self) -> Result<Option<CapturedFrame>, Self::Error> {
        self.capture_one().await.map(Some)
    }
}
