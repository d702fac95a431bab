//! From the detector's measurement of a frame to the cam's decision: is it a
//! motion frame, and does it raise a `motion` event?
//!
//! The rules, in order (`docs/detector.md`, "Algorithm", steps 6–7):
//! - a frame is *above* when its `change` exceeds the threshold and it is
//!   not a lighting change; once motion is declared, the next frames need
//!   only exceed `threshold × hysteresis` ([`DetectorConfig::hysteresis`]);
//! - it is a *motion frame* once [`DetectorConfig::min_motion_frames`]
//!   frames in a row were above;
//! - a motion frame raises an event unless it comes less than
//!   [`DetectorConfig::event_gap_ms`] of capture time after the previous
//!   motion frame, which then belongs to the same episode.
//!
//! The cam ([`crate::Cam`]) decides every frame with one gate; `cam-hil
//! eval` decides recorded measurements with the same code.

use crate::detector::{DetectorConfig, Measurement};

/// What [`MotionGate::decide`] made of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// A motion frame: above the threshold (or, with hysteresis, still
    /// above the lower one), for long enough.
    pub motion: bool,
    /// It raises a `motion` event (a trigger, counted and published).
    pub event: bool,
}

/// The state the rules keep between frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MotionGate {
    /// Frames in a row that were above.
    run: u32,
    /// Capture time (ms) of the last motion frame.
    last_motion_ms: Option<u64>,
}

impl MotionGate {
    /// Decides the frame measured as `m`, captured at `ts_ms` (ms), under
    /// `threshold` (a fraction of cells, `[0, 1]`) and `config`.
    pub fn decide(&mut self, m: Measurement, threshold: f64, config: &DetectorConfig, ts_ms: u64) -> Decision {
        // The lower bar holds motion once it is declared: frames that only
        // clear it never make up `min_motion_frames`.
        let holding = self.run >= config.min_motion_frames.max(1);
        let bar = if holding { threshold * config.hysteresis.min(1.0) } else { threshold };
        let above = m.change > bar && !m.lighting;
        self.run = if above { self.run.saturating_add(1) } else { 0 };
        let motion = above && self.run >= config.min_motion_frames;
        let same_episode = self.last_motion_ms.is_some_and(|t| ts_ms.saturating_sub(t) < config.event_gap_ms);
        if motion {
            self.last_motion_ms = Some(ts_ms);
        }
        Decision { motion, event: motion && !same_episode }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(change: f64) -> Measurement {
        Measurement { change, lighting: false }
    }

    fn decide_all(changes: &[f64], config: DetectorConfig) -> alloc::vec::Vec<bool> {
        let mut gate = MotionGate::default();
        changes.iter().enumerate().map(|(i, &c)| gate.decide(m(c), 0.10, &config, i as u64 * 200).motion).collect()
    }

    #[test]
    fn hysteresis_holds_motion_while_change_stays_above_the_lower_threshold() {
        let changes = [0.02, 0.06, 0.12, 0.08, 0.06, 0.04, 0.08];
        let plain = decide_all(&changes, DetectorConfig::seed());
        assert_eq!(plain, [false, false, true, false, false, false, false]);
        let held = decide_all(&changes, DetectorConfig { hysteresis: 0.5, ..DetectorConfig::seed() });
        // On at 0.12, held by 0.08 and 0.06 (above 0.05), off at 0.04, and
        // 0.08 alone does not start it again.
        assert_eq!(held, [false, false, true, true, true, false, false]);
    }

    #[test]
    fn hysteresis_does_not_shorten_min_motion_frames() {
        let config = DetectorConfig { hysteresis: 0.5, min_motion_frames: 3, ..DetectorConfig::seed() };
        // One frame above 0.10, then two only above 0.05: not motion.
        assert_eq!(decide_all(&[0.12, 0.08, 0.08, 0.0], config), [false, false, false, false]);
        // Three above, then held by the lower bar.
        assert_eq!(decide_all(&[0.12, 0.12, 0.12, 0.08, 0.0], config), [false, false, true, true, false]);
    }

    #[test]
    fn a_lighting_change_is_never_motion() {
        let mut gate = MotionGate::default();
        let lit = Measurement { change: 0.95, lighting: true };
        assert_eq!(gate.decide(lit, 0.05, &DetectorConfig::seed(), 0), Decision::default());
    }
}
