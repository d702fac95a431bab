//! The simulator's camera: a recorded clip replayed at its recorded timing
//! ([`ClipCamera`]), and the capture loop that feeds a camera's frames to
//! the cam ([`capture_loop`]). Loading the clip is the `footage` crate's
//! ([`Clip::load`]).

use std::sync::Arc;
use std::time::Duration;

use cam_core::camera::{Camera, CapturedFrame};
use footage::Clip;

use crate::shared::{Shared, unix_now_ms};

/// A [`Camera`] that plays a clip at its recorded timing divided by
/// `speed`, stamping each frame with the wall-clock time it is "captured".
#[derive(Debug)]
pub struct ClipCamera {
    clip: Clip,
    speed: f64,
    looping: bool,
    next: usize,
    start: tokio::time::Instant,
}

impl ClipCamera {
    /// Plays `clip` from its first frame, `speed` times as fast as
    /// recorded (values ≤ 0 are taken as 1); `looping` starts over after
    /// the last frame.
    pub fn new(clip: Clip, speed: f64, looping: bool) -> Self {
        let speed = if speed > 0.0 && speed.is_finite() { speed } else { 1.0 };
        Self { clip, speed, looping, next: 0, start: tokio::time::Instant::now() }
    }
}

impl Camera for ClipCamera {
    type Error = std::convert::Infallible;

    async fn capture(&mut self) -> Result<Option<CapturedFrame>, Self::Error> {
        if self.next == self.clip.frames.len() {
            if !self.looping {
                return Ok(None);
            }
            // Start over one mean frame interval after the last frame.
            let frames = &self.clip.frames;
            let span = frames[frames.len() - 1].t_ms - frames[0].t_ms;
            let gap = span / (frames.len() as u64 - 1).max(1);
            self.start += Duration::from_secs_f64((span + gap) as f64 / 1000.0 / self.speed);
            self.next = 0;
        }
        let frame = &self.clip.frames[self.next];
        self.next += 1;
        let offset = Duration::from_secs_f64(frame.t_ms as f64 / 1000.0 / self.speed);
        // Pacing to the recorded frame rate, as a real sensor would.
        tokio::time::sleep_until(self.start + offset).await;
        Ok(Some(CapturedFrame { jpeg: frame.jpeg.clone(), ts_ms: unix_now_ms() }))
    }
}

/// The capture loop: every frame the camera yields goes through the cam
/// until the camera ends. Undecodable frames are logged and skipped.
pub async fn capture_loop<C: Camera>(mut camera: C, shared: Arc<Shared>) -> Result<(), C::Error> {
    while let Some(frame) = camera.capture().await? {
        match shared.ingest(frame.jpeg, frame.ts_ms).await {
            Ok(Ok(o)) if o.event.is_some() => {
                tracing::debug!(frame = o.frame, change = o.change, "motion")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "capture loop: frame refused"),
            Err(e) => tracing::error!(error = %e, "capture loop: frame task failed"),
        }
    }
    Ok(())
}
