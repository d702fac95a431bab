//! Who feeds the detector: the board's camera, or the harness through
//! `POST /hil/frame`. While a test injects frames they own the frame source,
//! so camera frames never mix into a HIL run: from the first HIL request
//! (`/hil/frame` or `/hil/reset`) until [`HIL_HOLD_MS`](crate::limits::HIL_HOLD_MS)
//! ms after the last one, camera frames are dropped unseen. Each change of
//! owner is printed (`cam-fw: frames: hil|camera`).

/// The frame source's owner, as a pure state machine over the board's
/// clock (ms since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameSource {
    /// HIL holds the source until this time, in ms since boot.
    hil_until_ms: Option<u64>,
}

/// A change of owner, to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// HIL frames took the source.
    ToHil,
    /// The camera has it back.
    ToCamera,
}

impl FrameSource {
    /// The camera owns the source (at boot).
    pub const NEW: Self = Self { hil_until_ms: None };

    /// A HIL request at `now_ms`: HIL holds the source for `hold_ms` more.
    pub fn hil_request(&mut self, now_ms: u64, hold_ms: u64) -> Option<Handover> {
        let took = !self.hil_holds(now_ms);
        self.hil_until_ms = Some(now_ms.saturating_add(hold_ms));
        took.then_some(Handover::ToHil)
    }

    /// Whether a camera frame captured at `now_ms` may reach the detector;
    /// the handover back to the camera when HIL's hold has just run out.
    pub fn camera_frame(&mut self, now_ms: u64) -> (bool, Option<Handover>) {
        match self.hil_until_ms {
            Some(until) if now_ms < until => (false, None),
            Some(_) => {
                self.hil_until_ms = None;
                (true, Some(Handover::ToCamera))
            }
            None => (true, None),
        }
    }

    fn hil_holds(&self, now_ms: u64) -> bool {
        self.hil_until_ms.is_some_and(|until| now_ms < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_feeds_until_hil_comes() {
        let mut s = FrameSource::default();
        assert_eq!(s.camera_frame(0), (true, None));
        assert_eq!(s.camera_frame(1_000), (true, None));
    }

    #[test]
    fn hil_takes_the_source_and_gives_it_back_after_its_hold() {
        let mut s = FrameSource::default();
        assert_eq!(s.hil_request(1_000, 60_000), Some(Handover::ToHil));
        assert_eq!(s.camera_frame(1_200), (false, None));
        // Each HIL request extends the hold; no second handover.
        assert_eq!(s.hil_request(30_000, 60_000), None);
        assert_eq!(s.camera_frame(89_999), (false, None));
        assert_eq!(s.camera_frame(90_000), (true, Some(Handover::ToCamera)));
        assert_eq!(s.camera_frame(90_200), (true, None));
        // A later run takes it again.
        assert_eq!(s.hil_request(100_000, 60_000), Some(Handover::ToHil));
    }
}
