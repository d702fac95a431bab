//! `cam-hil eval --target`: the scores of [`super`] measured on a target
//! cam (the simulator, the firmware on the emulated board, a cam at a URL,
//! a board), not in process.
//!
//! Each clip is one scenario ([`scenario`]), run as `cam-hil run` runs
//! scenarios: a HIL reset (threshold and detector settings back to the
//! cam's own); the threshold and any detector settings sent over the
//! control WebSocket (`set_threshold`, `set_detector`; without settings an
//! empty `set_detector`, whose ack reports the cam's own); every frame posted
//! to `POST /hil/frame` with its capture timestamp as soon as the previous
//! one is acked; then a wait until the SSE stream has delivered the event
//! of every frame the cam acked as motion. A frame raised motion when a
//! `motion` SSE event reports it, which is what a client of the cam sees;
//! its `change` is the cam's reply ([`frames`]).
//!
//! The same frames through the core in process, at the settings the cam's
//! `set_detector` ack reported ([`settings`]) and the same threshold, must
//! give the same outcome on every frame ([`disagreements`]): only then do
//! the in-process figures (`docs/benchmarks.md`) hold for that cam.
//!
//! A cam with a console (a board, the emulated board) prints what each
//! frame cost its CPU (`cam-fw: cost` lines, [`FrameCost`]): [`costs`]
//! collects them and [`cost_row`] summarises them per clip, measured on
//! the device itself.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use cam_core::DetectorConfig;
use cam_core::settings::{DETECTOR_KEYS, DetectorChange, grouped};

use super::{EvalFrame, durations_ms};
use crate::board::FrameCost;
use crate::report::Reporter;
use crate::runner::{ScenarioReport, frame_of};
use crate::scenario::{DEFAULT_TIMEOUT_MS, Needs, Scenario};
use crate::steps::expect_console::ExpectConsole;
use crate::steps::expect_events::ExpectEvents;
use crate::steps::replay::{Pace, Replay};
use crate::steps::{Action, Step};
use crate::suite::{self, RunOptions};
use crate::target::TargetSpec;
use crate::timeline::Channel;

/// How long the replay of a clip of `frames` frames may take: 30 s, and a
/// second a frame (a board on a slow Wi-Fi link acks a QVGA frame in tens
/// of ms; the emulated board in about 50 ms).
fn replay_timeout(frames: usize) -> Duration {
    Duration::from_secs(30 + frames as u64)
}

/// The scenario that scores the clip in folder `dir` (of `frames` frames,
/// at least 1) on a target: `[config] threshold` (a fraction of the cells,
/// 0 to 1) and `detector` (sent as `set_detector`; `None`: an empty one,
/// which keeps the cam's own settings and has its ack report them), then `replay` of every frame paced by the cam's acks, then
/// `expect_events` of at least 0 `motion` events, which waits for the event
/// of every frame acked as motion (and fails if one never arrives); on a
/// cam with a console, then `expect_console` of the last frame's
/// `cam-fw: cost` line (frames are numbered from 1 after the reset), so
/// that [`costs`] has every frame's.
pub fn scenario(dir: &Path, frames: usize, threshold: f64, detector: Option<DetectorChange>) -> Scenario {
    let step = |index: usize, name: &str, timeout: Duration, action: Box<dyn Action>| Step {
        index,
        line: 0,
        file: None,
        name: Some(name.into()),
        timeout,
        action,
    };
    let replay = Replay { clip: dir.to_path_buf(), from: 0, to: frames.saturating_sub(1), pace: Pace::Acked };
    let settle = ExpectEvents {
        event: "motion".into(),
        min: 0,
        max: None,
        fields: None,
        first: None,
        last: None,
        within_ms: None,
    };
    let last_cost = ExpectConsole {
        regex: regex::Regex::new(&format!("^cam-fw: cost frame={frames} ")).expect("a literal and a number"),
        if_console: true,
    };
    let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    Scenario {
        path: dir.to_path_buf(),
        name: format!("eval {name}"),
        tags: vec!["eval".into()],
        fixture: Some(dir.to_path_buf()),
        threshold: Some(threshold),
        detector: Some(detector.unwrap_or_default()),
        needs: Needs::default(),
        steps: vec![
            step(1, "every frame of the clip", replay_timeout(frames), Box::new(replay)),
            step(
                2,
                "the event of every frame acked as motion",
                Duration::from_millis(DEFAULT_TIMEOUT_MS),
                Box::new(settle),
            ),
            step(3, "the last frame's cost line", Duration::from_millis(DEFAULT_TIMEOUT_MS), Box::new(last_cost)),
        ],
    }
}

/// The frames of a [`scenario`]'s run as [`super::score`] takes them: per
/// injected frame, in order, the cam's `change` and whether a `motion` SSE
/// event reports it; labels as the clip has them; durations from the
/// capture timestamps sent.
///
/// # Errors
/// The run was skipped or failed (the step and its message), for instance
/// a frame the cam did not ack, or an acked event that never arrived.
pub fn frames(report: &ScenarioReport) -> Result<Vec<EvalFrame>, String> {
    if let Some(why) = &report.skipped {
        return Err(format!("skipped: {why}"));
    }
    if let Some((step, message)) = report.failure() {
        return Err(format!("{step}: {message}"));
    }
    let with_event: HashSet<usize> =
        report.events.iter().filter(|e| e.name == "motion").filter_map(|e| frame_of(&report.frames, e)).collect();
    let durations = durations_ms(&report.frames.iter().map(|f| f.ts_ms).collect::<Vec<_>>());
    Ok(report
        .frames
        .iter()
        .zip(durations)
        .enumerate()
        .map(|(i, (f, duration_ms))| EvalFrame {
            index: f.index,
            change: f.reply.change,
            motion: with_event.contains(&i),
            label: f.label,
            duration_ms,
        })
        .collect())
}

/// The console's [`FrameCost`] lines for the frames a [`scenario`]'s run
/// injected, in the order they arrived: those after the run's HIL reset
/// (`cam-fw: hil reset`) whose frame numbers the cam acked. Empty for a cam
/// without a console (a cam at a URL, the simulator); a firmware that
/// prints no cost lines fails the run's last step instead.
pub fn costs(report: &ScenarioReport) -> Vec<FrameCost> {
    let acked: HashSet<u64> = report.frames.iter().map(|f| f.reply.frame).collect();
    let mut found = Vec::new();
    for e in report.timeline.entries.iter().filter(|e| e.channel == Channel::Console) {
        if e.text == "cam-fw: hil reset" {
            found.clear();
        } else if let Some(c) = FrameCost::parse(&e.text).filter(|c| acked.contains(&c.frame)) {
            found.push(c);
        }
    }
    found
}

/// One clip as a target gave it.
#[derive(Debug, Clone)]
pub struct OnTarget {
    /// Its frames ([`frames`]), or why there are none.
    pub frames: Result<Vec<EvalFrame>, String>,
    /// What they cost the cam's CPU ([`costs`]).
    pub costs: Vec<FrameCost>,
    /// The detector settings the cam reported ([`settings`]), or why not.
    pub settings: Result<DetectorConfig, String>,
}

/// The detector settings in force on the cam during a [`scenario`]'s run,
/// as its `set_detector` ack reported them (`docs/protocol.md`): what the
/// core in process must run at to be compared with it.
///
/// # Errors
/// The cam reported no settings, left a key out (its name), or reported a
/// value the core does not accept (the key and why).
pub fn settings(report: &ScenarioReport) -> Result<DetectorConfig, String> {
    let reported = report.detector.as_ref().ok_or(
        "the cam's set_detector ack reported no `detector` settings (docs/protocol.md): the core cannot be run at them",
    )?;
    let missing: Vec<&str> = DETECTOR_KEYS.iter().map(|k| k.name).filter(|k| !reported.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(format!("the cam's set_detector ack left out detector settings: {}", missing.join(", ")));
    }
    let change = DetectorChange::from_object(reported).map_err(|e| format!("the cam reported {e}"))?;
    let mut config = DetectorConfig::default();
    change.apply(&mut config);
    Ok(config)
}

/// Runs the [`scenario`] of every clip folder in `dirs` (`(folder, frames)`)
/// on `targets` as `options` say (spread over them, as `cam-hil run`
/// does), reporting to `reporter`; returns each clip's frames and costs,
/// in the order of `dirs`.
pub async fn run(
    dirs: &[(&Path, usize)],
    threshold: f64,
    detector: Option<DetectorChange>,
    targets: &[TargetSpec],
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Vec<OnTarget> {
    let scenarios: Vec<Scenario> =
        dirs.iter().map(|&(dir, frames)| scenario(dir, frames, threshold, detector)).collect();
    let (_, reports) = suite::run_on(&scenarios, targets, options, reporter).await;
    reports.iter().map(|r| OnTarget { frames: frames(r), costs: costs(r), settings: settings(r) }).collect()
}

/// The header of [`cost_row`]'s table.
pub const COST_HEADER: &str = "| clip | frames counted | median cycles | max cycles | median instructions | max instructions |\n|---|---|---|---|---|---|";

/// A Markdown row of what the frames of clip `name` cost the cam: how many
/// of its `injected` frames have a cost line, and the median and largest
/// cycle and instruction counts per frame (the median of an even count is
/// the mean of the middle two, rounded half to even; `-` where the cam
/// counts cycles only). `None` without any cost line.
pub fn cost_row(name: &str, injected: usize, costs: &[FrameCost]) -> Option<String> {
    fn figures(mut v: Vec<u64>) -> (String, String) {
        v.sort_unstable();
        let n = v.len();
        let median = if !n.is_multiple_of(2) { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 };
        (grouped(median.round_ties_even() as u64), grouped(v[n - 1]))
    }
    if costs.is_empty() {
        return None;
    }
    let (cycles, max_cycles) = figures(costs.iter().map(|c| c.cycles).collect());
    let instret: Option<Vec<u64>> = costs.iter().map(|c| c.instret).collect();
    let (instret, max_instret) = instret.map_or(("-".into(), "-".into()), figures);
    Some(format!("| {name} | {} of {injected} | {cycles} | {max_cycles} | {instret} | {max_instret} |", costs.len()))
}

/// A frame on which a target and the core, given the same frames at the
/// same settings, did not agree.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// Frame index in the clip.
    pub index: usize,
    /// The core's `change` and whether it raised motion.
    pub core: (f64, bool),
    /// The target's (`None`: the target never got to this frame).
    pub target: Option<(f64, bool)>,
}

/// `change` values closer than this are the same: a 256th of one cell of
/// a 40 × 30 grid is 3.3e-6, and a JSON round trip keeps 15 digits.
pub const CHANGE_TOLERANCE: f64 = 1e-6;

/// The frames where `target` (from [`frames`]) differs from `core` (from
/// [`super::run`] on the same clip): motion raised or not, or `change` by
/// more than [`CHANGE_TOLERANCE`]; frames `core` has beyond `target`'s end
/// too. Empty when they agree on every frame.
pub fn disagreements(core: &[EvalFrame], target: &[EvalFrame]) -> Vec<Disagreement> {
    core.iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let t = target.get(i).map(|t| (t.change, t.motion));
            let same =
                t.is_some_and(|(change, motion)| motion == c.motion && (change - c.change).abs() <= CHANGE_TOLERANCE);
            (!same).then_some(Disagreement { index: c.index, core: (c.change, c.motion), target: t })
        })
        .collect()
}

/// `frame 12: core change 0.0042 motion, target change 0.0008 no motion`.
impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |(change, motion): (f64, bool)| {
            format!("change {change:.6} {}", if motion { "motion" } else { "no motion" })
        };
        match self.target {
            Some(t) => write!(f, "frame {}: core {}, target {}", self.index, side(self.core), side(t)),
            None => write!(f, "frame {}: core {}, target never saw it", self.index, side(self.core)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: usize, change: f64, motion: bool) -> EvalFrame {
        EvalFrame { index, change, motion, label: Some(motion), duration_ms: 250 }
    }

    #[test]
    fn the_settings_a_cam_reports_are_checked_before_the_core_runs_at_them() {
        let s = scenario(Path::new("fixtures/x"), 3, 0.003, None);
        let mut report = ScenarioReport::not_started(&s, "sim", crate::outcome::Failure::setup(""));
        assert!(settings(&report).unwrap_err().contains("reported no `detector` settings"));
        let mut all = serde_json::to_value(cam_core::settings::DetectorSettings::of(&DetectorConfig::default()))
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        all["cell_delta"] = 30.into();
        report.detector = Some(all.clone());
        assert_eq!(settings(&report).map(|c| c.cell_delta), Ok(30));
        all["cell_delta"] = 300.into();
        report.detector = Some(all.clone());
        assert!(settings(&report).unwrap_err().starts_with("the cam reported"), "{:?}", settings(&report));
        all.remove("hysteresis");
        all.remove("background");
        report.detector = Some(all);
        assert_eq!(
            settings(&report).unwrap_err(),
            "the cam's set_detector ack left out detector settings: background, hysteresis"
        );
        // Given no settings, the scenario still asks the cam for its own.
        assert_eq!(s.detector, Some(DetectorChange::default()));
    }

    #[test]
    fn cost_rows_give_the_median_and_the_largest() {
        let cost = |frame, cycles, instret| FrameCost { frame, cycles, instret };
        let c = [
            cost(1, 1_000, Some(900)),
            cost(2, 3_000, Some(2_901)),
            cost(3, 2_000, Some(1_900)),
            cost(4, 1_234_567, Some(5)),
        ];
        assert_eq!(cost_row("clip", 5, &c).unwrap(), "| clip | 4 of 5 | 2,500 | 1,234,567 | 1,400 | 2,901 |");
        let cycles_only = [cost(1, 7, None), cost(2, 9, Some(3)), cost(3, 8, None)];
        assert_eq!(cost_row("c3", 3, &cycles_only).unwrap(), "| c3 | 3 of 3 | 8 | 9 | - | - |");
        assert_eq!(cost_row("none", 3, &[]), None);
    }

    #[test]
    fn a_frame_differing_in_motion_change_or_presence_is_a_disagreement() {
        let core = [frame(0, 0.0, false), frame(1, 0.01, true), frame(2, 0.002, false), frame(3, 0.0, false)];
        let target = [frame(0, 0.0, false), frame(1, 0.01, false), frame(2, 0.002 + 4e-6, false)];
        let found: Vec<usize> = disagreements(&core, &target).iter().map(|d| d.index).collect();
        assert_eq!(found, [1, 2, 3]);
        assert!(disagreements(&core, &core).is_empty());
        let within = [frame(0, 5e-7, false), frame(1, 0.01, true), frame(2, 0.002, false), frame(3, 0.0, false)];
        assert!(disagreements(&core, &within).is_empty());
        assert_eq!(
            disagreements(&core, &target)[0].to_string(),
            "frame 1: core change 0.010000 motion, target change 0.010000 no motion"
        );
    }
}
