//! Frame faults, applied by the harness's replay: what it sends instead of
//! a clip's frame, drawn from the scenario run's [`Dice`].
//!
//! Whatever a cam does with a faulted frame, the protocol lets it do only
//! two things: process it (200 and an ack) or refuse it (400 `bad frame`,
//! 413 too large), and a refused frame changes nothing. The replay checks
//! both: never a 5xx, and the frame numbers in the acks go on from where
//! they were, as if the refused frame had never been sent.

use super::{Dice, FaultPlan};

/// Bytes a frame is padded to when oversized: past any cam's frame limit.
pub const OVERSIZE_BYTES: usize = 4 * 1024 * 1024;

/// What the replay does to one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameFaults {
    /// Cut to half its length.
    pub truncate: bool,
    /// 8 bytes of its second half replaced by random ones.
    pub corrupt: bool,
    /// Padded to [`OVERSIZE_BYTES`].
    pub oversize: bool,
    /// Sent twice in a row.
    pub duplicate: bool,
    /// Swapped with the next frame.
    pub swap: bool,
    /// Sent with the previous frame's `X-Frame-Ts`.
    pub repeat_ts: bool,
}

impl FrameFaults {
    /// Draws one frame's faults from `plan`'s chances.
    pub fn draw(plan: &FaultPlan, dice: &Dice) -> Self {
        Self {
            truncate: dice.roll(plan.frame_truncate_chance),
            corrupt: dice.roll(plan.frame_corrupt_chance),
            oversize: dice.roll(plan.frame_oversize_chance),
            duplicate: dice.roll(plan.frame_duplicate_chance),
            swap: dice.roll(plan.frame_swap_chance),
            repeat_ts: dice.roll(plan.frame_repeat_ts_chance),
        }
    }

    /// Whether the bytes sent differ from the clip's (the cam may refuse
    /// such a frame).
    pub fn alters_bytes(&self) -> bool {
        self.truncate || self.corrupt || self.oversize
    }

    /// `jpeg` as this frame is to be sent.
    pub fn apply(&self, jpeg: &[u8], dice: &Dice) -> Vec<u8> {
        let mut bytes = jpeg.to_vec();
        if self.truncate {
            bytes.truncate(bytes.len() / 2);
        }
        if self.corrupt && bytes.len() >= 16 {
            let half = bytes.len() / 2;
            let at = half + dice.below((bytes.len() - half - 8) as u64) as usize;
            bytes[at..at + 8].copy_from_slice(&dice.bytes(8));
        }
        if self.oversize {
            bytes.resize(OVERSIZE_BYTES.max(bytes.len()), 0);
        }
        bytes
    }

    /// The faults by name, for the timeline (`truncated, repeated ts`).
    pub fn describe(&self) -> String {
        let names = [
            (self.truncate, "truncated"),
            (self.corrupt, "corrupted"),
            (self.oversize, "oversized"),
            (self.duplicate, "duplicated"),
            (self.swap, "swapped with the next"),
            (self.repeat_ts, "repeated X-Frame-Ts"),
        ];
        names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_change_the_bytes_as_named() {
        let jpeg: Vec<u8> = (0..100).collect();
        let dice = Dice::new(1);
        let t = FrameFaults { truncate: true, ..FrameFaults::default() };
        assert_eq!(t.apply(&jpeg, &dice), jpeg[..50]);
        let c = FrameFaults { corrupt: true, ..FrameFaults::default() }.apply(&jpeg, &dice);
        assert_eq!(c.len(), 100);
        assert_eq!(c[..50], jpeg[..50], "the first half is kept");
        let o = FrameFaults { oversize: true, ..FrameFaults::default() }.apply(&jpeg, &dice);
        assert_eq!((o.len(), &o[..100]), (OVERSIZE_BYTES, &jpeg[..]));
        assert_eq!(
            FrameFaults { duplicate: true, repeat_ts: true, ..FrameFaults::default() }.describe(),
            "duplicated, repeated X-Frame-Ts"
        );
    }
}
