//! The cam's state and what changes it: frames in, commands in, events out.
//!
//! Source: seed chapters "Pushing events to the dashboard" (threshold,
//! trigger count, the detector task) and "Two-way control with WebSockets"
//! (`snapshot_now`, `reset`); `docs/protocol.md` for `/hil/reset`,
//! `set_threshold` and `status`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::command::{Ack, Command, ParseError};
use crate::detector::{Detector, DetectorConfig, FrameError};
use crate::event_log::{EventLog, MotionEvent};
use crate::gate::MotionGate;
use crate::protocol::{DEFAULT_THRESHOLD, FrameReply, SNAPSHOT_DIR, StatusReply};
use crate::storage::Storage;

/// The newest good frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestFrame {
    /// JPEG bytes as received.
    pub jpeg: Vec<u8>,
    /// Capture time, ms since the Unix epoch.
    pub ts_ms: u64,
    /// Frame sequence number.
    pub seq: u64,
}

/// What [`Cam::process_frame`] made of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameOutcome {
    /// Frame sequence number (from 1 after a HIL reset).
    pub frame: u64,
    /// The detector's `change`, in `[0, 1]`.
    pub change: f64,
    /// The `motion` event this frame raised (already in the event log, with
    /// its id), if the gate's rules made it a motion frame that starts or
    /// is its own event ([`crate::gate`]: `change` above the threshold, or
    /// above `threshold × hysteresis` while motion lasts, not a lighting
    /// change, for `min_motion_frames` in a row, outside `event_gap_ms`).
    pub event: Option<MotionEvent>,
}

/// The whole cam: detector, threshold, trigger count, frame counter, latest
/// frame and event log. No clock and no I/O: times come in as arguments,
/// storage through [`Storage`].
#[derive(Debug, Clone)]
pub struct Cam {
    detector: Detector,
    /// The detector settings the cam started with (restored by a HIL reset).
    default_detector: DetectorConfig,
    threshold: f64,
    trigger_count: u64,
    frames: u64,
    rejected_frames: u64,
    latest: Option<LatestFrame>,
    log: EventLog,
    /// Threshold, hysteresis, `min_motion_frames`, `event_gap_ms`.
    gate: MotionGate,
}

impl Default for Cam {
    /// Default detector and log capacity, boot number 0 (for tests; a
    /// target draws its boot number at random, see [`Cam::new`]).
    fn default() -> Self {
        Self::new(DetectorConfig::default(), crate::event_log::DEFAULT_CAPACITY, 0)
    }
}

impl From<&FrameOutcome> for FrameReply {
    /// The `POST /hil/frame` reply for a processed frame.
    fn from(o: &FrameOutcome) -> Self {
        FrameReply {
            frame: o.frame,
            change: o.change,
            motion: o.event.is_some(),
            id: o.event.as_ref().map(|e| e.id.to_string()),
        }
    }
}

impl Cam {
    /// A cam that has seen no frame, with the default threshold
    /// ([`crate::protocol::DEFAULT_THRESHOLD`], 0.003) and an
    /// event log keeping `log_capacity` events for resuming clients.
    ///
    /// `boot` is this boot's number, the first half of every SSE id
    /// (`docs/protocol.md`, "Reboots"): draw it at random at every boot
    /// (hardware RNG on the board), so a client can tell a reboot from a
    /// resume.
    pub fn new(detector: DetectorConfig, log_capacity: usize, boot: u32) -> Self {
        Self {
            detector: Detector::new(detector),
            default_detector: detector,
            threshold: DEFAULT_THRESHOLD,
            trigger_count: 0,
            frames: 0,
            rejected_frames: 0,
            latest: None,
            log: EventLog::new(log_capacity, boot),
            gate: MotionGate::default(),
        }
    }

    /// Runs one frame through the detector. A good frame is counted, becomes
    /// the latest frame and the reference (or is learnt by the background
    /// model); if the gate ([`crate::gate`]) makes it a motion frame that
    /// raises an event (at the defaults: `change` above the threshold, or
    /// above `threshold × hysteresis` while motion lasts) the trigger count
    /// goes up and a `motion` event is appended to the event log.
    ///
    /// `ts_ms` is the capture time in ms since the Unix epoch.
    ///
    /// # Errors
    /// [`FrameError`] for a frame that does not decode: nothing changes but
    /// [`Cam::rejected_frames`].
    pub fn process_frame(&mut self, jpeg: Vec<u8>, ts_ms: u64) -> Result<FrameOutcome, FrameError> {
        let measured = match self.detector.process(&jpeg) {
            Ok(m) => m,
            Err(e) => {
                self.rejected_frames += 1;
                return Err(e);
            }
        };
        self.frames += 1;
        let frame = self.frames;
        self.latest = Some(LatestFrame { jpeg, ts_ms, seq: frame });
        let change = measured.change;
        let config = *self.detector.config();
        let decision = self.gate.decide(measured, self.threshold, &config, ts_ms);
        let event = decision.event.then(|| {
            self.trigger_count += 1;
            self.log
                .push(MotionEvent {
                    id: Default::default(),
                    ts: ts_ms as f64 / 1000.0,
                    count: self.trigger_count,
                    change,
                    frame,
                })
                .clone()
        });
        Ok(FrameOutcome { frame, change, event })
    }

    /// Parses one WebSocket text frame and applies it; the ack to send back.
    /// `now_unix_s` (seconds since the Unix epoch) names snapshot files.
    pub fn handle_text(&mut self, text: &str, now_unix_s: u64, storage: &mut impl Storage) -> Ack {
        match Command::parse(text) {
            Ok(cmd) => self.apply(cmd, now_unix_s, storage),
            Err(e) => Ack::for_parse_error(e),
        }
    }

    /// Applies a command (see [`Command`]) and returns its ack.
    ///
    /// `snapshot_now` writes the latest frame to
    /// `/sdcard/snaps/manual-<now_unix_s>.jpg`; if that name is taken (two
    /// snapshots in one second) it uses `manual-<now_unix_s>-2.jpg`, `-3`, …
    pub fn apply(&mut self, cmd: Command, now_unix_s: u64, storage: &mut impl Storage) -> Ack {
        match cmd {
            Command::SnapshotNow => {
                let Some(latest) = &self.latest else {
                    return Ack::refused("no frame yet");
                };
                snapshot(storage, now_unix_s, &latest.jpeg)
            }
            Command::Reset => {
                self.trigger_count = 0;
                Ack::CountersReset { ok: true, counters: "reset" }
            }
            Command::SetThreshold(Some(x)) if (0.0..=1.0).contains(&x) => {
                self.threshold = x;
                Ack::Threshold { ok: true, threshold: x }
            }
            Command::SetThreshold(_) => Ack::refused("bad threshold"),
            Command::SetDetector(Err(_)) => Ack::refused("bad detector setting"),
            Command::SetDetector(Ok(change)) => {
                let mut c = *self.detector.config();
                change.apply(&mut c);
                self.detector = Detector::new(c);
                self.gate = MotionGate::default();
                let detector = crate::settings::DetectorSettings::of(&c);
                Ack::Detector { ok: true, detector }
            }
            Command::Status => {
                let s = self.status();
                Ack::Status { ok: true, threshold: s.threshold, trigger_count: s.trigger_count, frames: s.frames }
            }
        }
    }

    /// `POST /hil/reset`: forgets frames, the reference frame, the latest
    /// frame and the trigger count; threshold back to the default
    /// ([`crate::protocol::DEFAULT_THRESHOLD`], 0.003) and detector
    /// settings back to those the cam started with. Event ids keep
    /// increasing.
    pub fn hil_reset(&mut self) {
        self.detector = Detector::new(self.default_detector);
        self.threshold = DEFAULT_THRESHOLD;
        self.trigger_count = 0;
        self.frames = 0;
        self.latest = None;
        self.gate = MotionGate::default();
    }

    /// Sets the threshold without the `[0, 1]` check of `set_threshold`:
    /// below 0 every frame is motion. Only for the simulator's deliberate
    /// protocol break `always-motion` (feature `protocol-breaks`, which the
    /// firmware never enables) and this crate's tests.
    #[cfg(any(test, feature = "protocol-breaks"))]
    pub fn set_threshold_unchecked(&mut self, threshold: f64) {
        self.threshold = threshold;
    }

    /// `GET /status` figures.
    pub fn status(&self) -> StatusReply {
        StatusReply { threshold: self.threshold, trigger_count: self.trigger_count, frames: self.frames }
    }

    /// The newest good frame, if any.
    pub fn latest(&self) -> Option<&LatestFrame> {
        self.latest.as_ref()
    }

    /// The event log (for `Last-Event-ID` resume).
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Frames refused as undecodable since boot.
    pub fn rejected_frames(&self) -> u64 {
        self.rejected_frames
    }

    /// The detector's configuration.
    pub fn detector_config(&self) -> &DetectorConfig {
        self.detector.config()
    }
}

/// Snapshot paths tried before giving up within one second.
const MAX_SAME_SECOND: u32 = 1000;

/// `snapshot_now`'s write and its ack: `jpeg` (the latest frame, copied
/// out of the cam by a caller that must not hold the cam while a slow card
/// writes) to `/sdcard/snaps/manual-<now_unix_s>.jpg`, or `-2`, `-3`, … when
/// that name is taken. The ack is `{"ok":true,"saved":PATH}`, or
/// `{"ok":false,"reason":"storage: …"}` when the store refuses.
pub fn snapshot<S: Storage>(storage: &mut S, now_unix_s: u64, jpeg: &[u8]) -> Ack {
    match save_snapshot(storage, now_unix_s, jpeg) {
        Ok(path) => Ack::Saved { ok: true, saved: path },
        Err(e) => Ack::refused(format!("storage: {e}")),
    }
}

fn save_snapshot<S: Storage>(storage: &mut S, now_s: u64, jpeg: &[u8]) -> Result<String, String> {
    for n in 1..=MAX_SAME_SECOND {
        let path = if n == 1 {
            format!("{SNAPSHOT_DIR}/manual-{now_s}.jpg")
        } else {
            format!("{SNAPSHOT_DIR}/manual-{now_s}-{n}.jpg")
        };
        if !storage.exists(&path).map_err(|e| format!("{e}"))? {
            storage.write_atomic(&path, jpeg).map_err(|e| format!("{e}"))?;
            return Ok(path);
        }
    }
    Err(format!("more than {MAX_SAME_SECOND} snapshots in second {now_s}"))
}

/// Convenience for [`ParseError`] users.
impl From<ParseError> for Ack {
    fn from(e: ParseError) -> Self {
        Ack::for_parse_error(e)
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::string::ToString;

    use super::*;

    /// An in-memory card; `fail` makes every write fail.
    #[derive(Default)]
    struct Card {
        files: BTreeMap<String, Vec<u8>>,
        fail: bool,
    }

    impl Storage for Card {
        type Error = &'static str;
        fn exists(&mut self, path: &str) -> Result<bool, Self::Error> {
            Ok(self.files.contains_key(path))
        }
        fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), Self::Error> {
            if self.fail {
                return Err("card full");
            }
            self.files.insert(path.to_string(), data.to_vec());
            Ok(())
        }
    }

    /// A real QVGA JPEG (the still scene of the generated fixture).
    fn frame() -> Vec<u8> {
        include_bytes!("../../fixtures/synthetic_bright_square/frame_00000.jpg").to_vec()
    }

    #[test]
    fn snapshots_in_the_same_second_get_their_own_names() {
        let mut cam = Cam::default();
        let mut card = Card::default();
        assert_eq!(cam.apply(Command::SnapshotNow, 7, &mut card), Ack::refused("no frame yet"));
        cam.process_frame(frame(), 7_000).unwrap();
        let names: Vec<String> = (0..3)
            .map(|_| match cam.apply(Command::SnapshotNow, 7, &mut card) {
                Ack::Saved { saved, .. } => saved,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            ["/sdcard/snaps/manual-7.jpg", "/sdcard/snaps/manual-7-2.jpg", "/sdcard/snaps/manual-7-3.jpg"]
        );
        assert!(card.files.values().all(|f| f == &frame()));
    }

    /// Feeds `motion` (true: a motion frame, false: a still one) at 200 ms
    /// intervals; the frames that raised an event.
    fn events_for(cam: &mut Cam, motion: &[bool]) -> Vec<u64> {
        let mut raised = Vec::new();
        for (i, m) in motion.iter().enumerate() {
            cam.set_threshold_unchecked(if *m { -1.0 } else { 2.0 });
            if let Some(e) = cam.process_frame(frame(), 200 * i as u64).unwrap().event {
                raised.push(e.frame);
            }
        }
        raised
    }

    fn set(cam: &mut Cam, json: &str) {
        let ack = cam.handle_text(json, 0, &mut Card::default());
        assert!(matches!(ack, Ack::Detector { .. }), "{ack:?}");
    }

    #[test]
    fn min_motion_frames_ignores_short_glitches() {
        let pattern = [true, false, true, true, false, true, true, true, true, false];
        let mut cam = Cam::default();
        assert_eq!(events_for(&mut cam, &pattern), [1, 3, 4, 6, 7, 8, 9], "default: every motion frame");
        let mut cam = Cam::default();
        set(&mut cam, r#"{"cmd":"set_detector","min_motion_frames":3}"#);
        assert_eq!(events_for(&mut cam, &pattern), [8, 9], "only the run of four reaches three");
        assert_eq!(cam.status().trigger_count, 2);
    }

    #[test]
    fn event_gap_makes_one_event_per_episode() {
        // Motion for 1 s, still for 0.6 s, motion, still for 1.4 s, motion.
        let mut pattern = [true; 5].to_vec();
        pattern.extend([false; 3]);
        pattern.extend([true; 2]);
        pattern.extend([false; 7]);
        pattern.extend([true; 2]);
        let mut cam = Cam::default();
        set(&mut cam, r#"{"cmd":"set_detector","event_gap_ms":1000}"#);
        // Frame 9 is 800 ms after frame 5's motion: the same episode.
        assert_eq!(events_for(&mut cam, &pattern), [1, 18]);
        let mut cam = Cam::default();
        set(&mut cam, r#"{"cmd":"set_detector","event_gap_ms":500}"#);
        assert_eq!(events_for(&mut cam, &pattern), [1, 9, 18]);
    }

    #[test]
    fn bad_episode_settings_are_refused() {
        let mut cam = Cam::default();
        for bad in [
            r#"{"cmd":"set_detector","min_motion_frames":0}"#,
            r#"{"cmd":"set_detector","min_motion_frames":2.5}"#,
            r#"{"cmd":"set_detector","event_gap_ms":-1}"#,
            r#"{"cmd":"set_detector","cell_delta":256}"#,
            r#"{"cmd":"set_detector","cell_delta":12,"tolerate_shake":"yes"}"#,
        ] {
            assert_eq!(cam.handle_text(bad, 0, &mut Card::default()), Ack::refused("bad detector setting"), "{bad}");
        }
    }

    #[test]
    fn set_detector_acks_every_setting_and_ignores_other_keys() {
        let mut cam = Cam::default();
        let ack = cam.handle_text(r#"{"cmd":"set_detector","cell_delta":20,"colour":"red"}"#, 0, &mut Card::default());
        assert_eq!(
            ack.to_json(),
            r#"{"ok":true,"detector":{"cell_px":8,"cell_delta":20,"compensate_lighting":true,"lightswitch":0.9,"min_motion_frames":1,"event_gap_ms":0,"tolerate_shake":true,"background":false,"learn_frames":8,"absorb_frames":10,"noise_factor":3.0,"grade_cells":true,"hysteresis":0.3}}"#
        );
        assert_eq!(cam.detector_config().cell_delta, 20);
        cam.hil_reset();
        assert_eq!(*cam.detector_config(), DetectorConfig::default());
    }

    #[test]
    fn a_storage_failure_is_reported_in_the_ack() {
        let mut cam = Cam::default();
        cam.process_frame(frame(), 1).unwrap();
        let mut card = Card { fail: true, ..Card::default() };
        assert_eq!(cam.apply(Command::SnapshotNow, 1, &mut card), Ack::refused("storage: card full"));
    }

    #[test]
    fn a_corrupt_frame_changes_nothing_but_the_rejected_count() {
        let mut cam = Cam::default();
        cam.process_frame(frame(), 1).unwrap();
        let before = cam.status();
        assert!(cam.process_frame(b"\xff\xd8garbage".to_vec(), 2).is_err());
        assert!(cam.process_frame(Vec::new(), 3).is_err());
        assert_eq!(cam.status(), before);
        assert_eq!(cam.rejected_frames(), 2);
        assert_eq!(cam.latest().map(|f| f.ts_ms), Some(1));
    }

    #[test]
    fn threshold_bounds_and_reset() {
        let mut cam = Cam::default();
        let mut card = Card::default();
        assert_eq!(
            cam.apply(Command::SetThreshold(Some(1.0)), 0, &mut card),
            Ack::Threshold { ok: true, threshold: 1.0 }
        );
        for bad in [Some(-0.01), Some(1.01), Some(f64::NAN), None] {
            assert_eq!(cam.apply(Command::SetThreshold(bad), 0, &mut card), Ack::refused("bad threshold"));
        }
        cam.hil_reset();
        assert_eq!(cam.status().threshold, DEFAULT_THRESHOLD);
    }
}
